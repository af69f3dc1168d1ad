"""Official SQuAD v2 metric rules and threshold tuning, see qa/evaluation/squad.py and qa/evaluation/reader.py."""

import pytest

from qa.evaluation.heldout import split_by_article
from qa.evaluation.reader import Prediction, best_threshold
from qa.evaluation.squad import Answer, QAExample, f1_score, normalize_answer, score_one, squad_v2_scores


def test_normalisation_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("The  Vinh City!") == "vinh city"
    assert normalize_answer("an apple, a pear") == "apple pear"


def test_em_f1_and_unanswerable():
    assert score_one(["Vinh city"], "the vinh city") == (1.0, 1.0)
    assert f1_score("Ha Tan Tien", "Major General Ha Tan Tien") == pytest.approx(2 * 0.6 * 1.0 / 1.6)
    assert score_one([], "") == (1.0, 1.0)  # unanswerable, abstained
    assert score_one([], "something") == (0.0, 0.0)
    s = squad_v2_scores({"a": ["x"], "b": []}, {"a": "x", "b": "y"})
    assert s["exact"] == 50.0 and s["HasAns_f1"] == 100.0 and s["NoAns_f1"] == 0.0


def _ex(i, ans, article="A"):
    return QAExample(str(i), "q", "ctx", (Answer(ans, 0),) if ans else (), article)


def test_best_threshold_separates_answerable_from_not():
    exs = [_ex(1, "x"), _ex(2, "x"), _ex(3, None), _ex(4, None)]
    preds = {"1": Prediction("1", "x", 3.0), "2": Prediction("2", "x", 2.0),
             "3": Prediction("3", "z", -1.0), "4": Prediction("4", "z", 0.5)}
    t, f1 = best_threshold(exs, preds)
    assert 0.5 < t < 2.0 and f1 == 100.0


def test_split_by_article_never_splits_an_article():
    exs = [_ex(i, "x", article=f"art{i % 5}") for i in range(50)]
    tune, report = split_by_article(exs)
    assert tune and report and not {e.article for e in tune} & {e.article for e in report}


def test_a_held_out_set_measured_several_ways_is_read_once_with_the_same_figures(tiny_squad, tiny_reader_dir, tmp_path):
    """``evaluate(read=...)`` keeps predictions by question and context: the second and third ways of
    measuring read nothing new, and every figure equals what a fresh read gives."""
    import json

    from conftest import make_reader, moved_squad
    from qa.evaluation.reader import evaluate

    other = moved_squad(tiny_squad, "other", "Elsewhere, ")
    (tmp_path / "other.json").write_text(json.dumps(other))
    reader = make_reader(tiny_reader_dir, max_length=64, stride=16)
    pairs_read = []
    real = reader.read_pairs
    reader.read_pairs = lambda questions, contexts, **kw: pairs_read.extend(zip(questions, contexts)) or real(questions, contexts, **kw)
    a, b = str(tiny_squad), str(tmp_path / "other.json")
    read: dict = {}
    kept = [evaluate(reader, [a], 0.2, read=read), evaluate(reader, [a], 0.2, tune_data=[b], read=read),
            evaluate(reader, [b], 0.2, tune_data=[a], read=read)]
    assert len(pairs_read) == len(read) > 0  # each question read once (the two tiny articles share paragraphs)
    fresh = [evaluate(reader, [a], 0.2), evaluate(reader, [a], 0.2, tune_data=[b]), evaluate(reader, [b], 0.2, tune_data=[a])]
    assert kept == fresh
