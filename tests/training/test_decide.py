"""Judging readers on a decision set with bootstrap intervals, see qa/training/decide.py."""

import json
import random

import numpy as np
import pytest

from qa.answering.no_answer import feature_names
from qa.evaluation.squad import Answer, QAExample, load_squad
from qa.settings import Settings
from qa.training import decide
from qa.training.calibrate import Row, fit, prior_weights

from conftest import make_reader


def rows(n: int, seed: int, skill: float) -> list[Row]:
    """Questions, a third unanswerable; a reader of ``skill`` gives right answers a higher first feature."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answerable = i % 3 != 0
        right = answerable and rng.random() < skill
        margin = rng.gauss(2.0 if right else -1.0, 1.0)
        ex = QAExample(f"q{i}", "q?", "", (Answer("a", 0),) if answerable else (), "art", "s")
        out.append(Row(ex, "a" if right else "b", (margin, 0.5, 1.0, 0.0, 0.5), 1.0 if right else 0.0,
                       0.0 if answerable else 1.0))
    return out


def test_prior_weights_give_unanswerable_questions_the_stated_share_and_drop_none():
    rs = rows(300, 1, 0.7)
    for prior in (0.25, 0.5):
        w = prior_weights(rs, prior)
        no = np.array([not r.example.answers for r in rs])
        assert len(w) == len(rs) and (w > 0).all()
        assert w[no].sum() / w.sum() == pytest.approx(prior)
    assert (prior_weights(rs, None) == 1).all()


def test_a_policy_fitted_for_more_unanswerable_traffic_refuses_more():
    rs = rows(900, 2, 0.6)
    refused = {}
    for prior in (0.1, 0.5, 0.8):
        o = decide.outcome(rs, fit(rs, prior=prior))
        refused[prior] = o.figures(prior)["NoAns_accuracy"]
    assert refused[0.1] < refused[0.5] < refused[0.8]


def test_report_combines_the_halves_at_the_prior_with_intervals_around_the_point():
    rs = rows(600, 3, 0.7)
    o = decide.outcome(rs, fit(rs, prior=0.5))
    rep = decide.report(o, 0.25, n=300)
    f1, has, no = (rep[k]["value"] for k in ("f1", "HasAns_f1", "NoAns_accuracy"))
    assert f1 == pytest.approx(0.75 * has + 0.25 * no)
    for k in ("f1", "HasAns_f1", "NoAns_accuracy"):
        lo, hi = rep[k]["ci95"]
        assert lo < rep[k]["value"] < hi and hi - lo < 15
    assert rep["answerable"] == 400 and rep["unanswerable"] == 200


def test_compare_is_paired_and_tells_a_better_reader_from_noise():
    weak, strong = rows(900, 4, 0.5), rows(900, 4, 0.8)  # same questions, same order
    ow = decide.outcome(weak, fit(weak, prior=0.5))
    os_ = decide.outcome(strong, fit(strong, prior=0.5))
    better = decide.compare(ow, os_, 0.5, n=300)
    assert better["f1"]["ci95"][0] > 0 and better["f1"]["difference"] > 5
    same = decide.compare(ow, ow, 0.5, n=300)
    assert same["f1"]["difference"] == 0 and same["f1"]["ci95"] == [0.0, 0.0]
    # question order does not matter, the set does
    shuffled = decide.Outcome(ow.ids[::-1], ow.score[::-1], ow.answerable[::-1])
    assert decide.compare(ow, shuffled, 0.5, n=50)["f1"]["difference"] == 0
    with pytest.raises(ValueError):
        decide.compare(ow, decide.Outcome(["x"] + ow.ids[1:], ow.score, ow.answerable), 0.5, n=10)


def test_rows_survive_the_round_trip_through_their_file(tmp_path):
    rs = rows(50, 5, 0.7)
    decide.save_rows(tmp_path / "r.json.gz", {"policy": rs, "decision": rs[:20]}, {"model": "m"})
    parts, meta = decide.load_rows(tmp_path / "r.json.gz")
    assert meta == {"model": "m"} and len(parts["decision"]) == 20
    policy = fit(rs, prior=0.5)
    assert decide.outcome(parts["policy"], policy).score.tolist() == decide.outcome(rs, policy).score.tolist()


def test_gather_reads_every_sampled_question_over_one_index_of_all_paragraphs(tmp_path, tiny_reader_dir, embedder):
    data = [{"title": f"art{a}", "paragraphs": [{"context": ctx, "qas": [
        {"id": f"{a}", "question": q, "is_impossible": False, "answers": [{"text": ans, "answer_start": ctx.index(ans)}]},
        {"id": f"{a}n", "question": "Who won the football match?", "is_impossible": True, "answers": []}]}]}
        for a, (ctx, q, ans) in enumerate([
            ("The conference was held in Vinh city on April 24.", "Where was the conference held?", "Vinh city"),
            ("Major General Ha Tan Tien is Deputy Commander.", "Who is Deputy Commander?", "Ha Tan Tien"),
            ("The plan was issued on 18th September 2019.", "When was the plan issued?", "18th September 2019")])]
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": data}))
    reader = make_reader(tiny_reader_dir, max_length=64, stride=16)
    settings = Settings(top_k=2, retrieval_mode="lexical", chunk_words=50, chunk_overlap_words=10)
    got = decide.gather(reader, embedder, load_squad(path), settings, limit=4, foreign=load_squad(path),
                        foreign_share=0.5, seed=3, progress=False)
    assert len(got) == 4 + 2  # the sample, and half as many out-of-corpus questions
    assert all(len(r.features) == len(feature_names(False)) for r in got)
    assert sum(not r.example.answers for r in got) >= 2
