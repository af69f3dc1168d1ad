"""Fitting the no-answer decision through the real pipeline, see qa/training/calibrate.py."""

import json
import random

from qa.answering.no_answer import FEATURES, NoAnswerPolicy, feature_names
from qa.evaluation.squad import Answer, QAExample, load_squad
from qa.settings import Settings
from qa.training.calibrate import Proposed, Row, calibrate, f1_at, fit, summarise

from conftest import make_reader


def test_calibrate_runs_the_pipeline_and_fits_a_policy(tmp_path, tiny_reader_dir, tiny_verifier_dir, embedder):
    data = []
    for a, (ctx, q, ans) in enumerate([
        ("The conference was held in Vinh city on April 24.", "Where was the conference held?", "Vinh city"),
        ("Major General Ha Tan Tien is Deputy Commander.", "Who is Deputy Commander?", "Ha Tan Tien"),
        ("The plan was issued on 18th September 2019.", "When was the plan issued?", "18th September 2019"),
        ("Troops brought rice to children in Huoi Son village.", "What did troops bring?", "rice"),
    ]):
        qas = [{"id": f"{a}", "question": q, "is_impossible": False,
                "answers": [{"text": ans, "answer_start": ctx.index(ans)}]},
               {"id": f"{a}n", "question": "Who won the football match?", "is_impossible": True, "answers": []}]
        data.append({"title": f"art{a}", "paragraphs": [{"context": ctx, "qas": qas}]})
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": data}))
    # the tiny random reader is wrong: take its own spans as gold so that right and wrong both occur
    reader = make_reader(tiny_reader_dir, max_length=64, stride=16)
    for art in data:
        para = art["paragraphs"][0]
        top = reader.read(para["qas"][0]["question"], [para["context"]])[0][0].text
        para["qas"][0]["answers"] = [{"text": top, "answer_start": para["context"].index(top)}]
    path.write_text(json.dumps({"data": data}))
    settings = Settings(top_k=1, retrieval_mode="lexical", chunk_words=50, chunk_overlap_words=10)
    res = calibrate(reader, embedder, load_squad(path), settings, foreign=load_squad(path), foreign_share=0.25)
    assert len(res["policy"]["weights"]) == len(feature_names(False)) == len(res["features"]) == len(FEATURES) - 1
    # with a verifier its logit is the sixth input, and the fitted policy asks for one
    from qa.answering.verifier import AnswerVerifier

    verifier = AnswerVerifier.from_settings(settings, model_dir=tiny_verifier_dir)
    with_v = calibrate(reader, embedder, load_squad(path), settings, foreign=load_squad(path), foreign_share=0.25,
                       verifier=verifier)
    assert with_v["features"] == list(FEATURES) and len(with_v["policy"]["weights"]) == len(FEATURES)
    assert NoAnswerPolicy.from_config(with_v["policy"]).uses_verifier
    # 8 held-out questions + 2 out-of-corpus ones, which count as unanswerable
    assert res["tune"]["questions"] + res["report"]["questions"] == 10
    assert res["tune"]["unanswerable"] + res["report"]["unanswerable"] == 6
    assert 0.0 <= res["report"]["NoAns_accuracy"] <= 100.0
    # the unanswerable questions, told apart by where they come from: 4 of the data set's own, 2 out of corpus
    kinds = {}
    for part in ("tune", "report"):
        for kind, v in res[part]["NoAns_accuracy_by_kind"].items():
            kinds[kind] = kinds.get(kind, 0) + v["questions"]
    assert kinds == {"in the data": 4, "out of corpus": 2}
    assert res["seed"] == 7  # the split is recorded with the figures


def test_fit_learns_what_separates_right_answers_from_wrong_ones():
    """Rows whose right answers have high reader margins and question support, wrong ones low: the fitted
    policy must weigh both up, keep far more right answers than wrong ones, and beat both "always answer"
    and "never answer" in F1 on fresh rows drawn the same way."""
    def rows(n: int, seed: int) -> list[Row]:
        rng = random.Random(seed)
        out = []
        for i in range(n):
            right = rng.random() < 0.5
            margin = rng.gauss(3.0 if right else -1.0, 1.0)
            support = min(1.0, max(0.0, rng.gauss(0.8 if right else 0.3, 0.15)))
            feats = (margin, rng.random(), rng.random(), 0.0, support)
            ex = QAExample(f"q{i}", "q?", "c", (Answer("c", 0),) if right else (), "art")
            out.append(Row(ex, "c", feats, 1.0 if right else 0.0, 0.0 if right else 1.0))
        return out

    policy = fit(rows(400, 1))
    assert policy.weights[0] > 0.5 and policy.weights[4] > 0.5  # margin and support count for an answer
    test = rows(400, 2)
    probs = [policy.probability(r.features) for r in test]
    kept_right = sum(p >= policy.cutoff for r, p in zip(test, probs) if r.f1)
    kept_wrong = sum(p >= policy.cutoff for r, p in zip(test, probs) if not r.f1)
    assert kept_right > 0.8 * sum(r.f1 > 0 for r in test) and kept_wrong < 0.2 * sum(r.f1 == 0 for r in test)
    assert f1_at(test, probs, policy.cutoff) > max(f1_at(test, probs, 0.0), f1_at(test, probs, 1.01)) + 20
    assert NoAnswerPolicy.from_config(policy.to_config()) == policy


def test_figures_judge_the_answer_the_policy_ranks_first_as_the_service_does():
    """The reader's best span is wrong, another candidate with a closer passage is right: a policy that
    weighs the dense cosine gives the right one (``AnswerPipeline.ask`` ranks by probability), and the
    report must count that answer, not the reader's best span."""
    ex = QAExample("q", "Where?", "c", (Answer("Vinh city", 0),), "art")
    row = Row(ex, "Hanoi", (3.0, 0.2, 1.0, 0.0, 0.5), 0.0, 0.0,
              others=(Proposed("Vinh city", (2.0, 0.9, 1.0, 0.0, 0.5), 1.0),))
    by_margin, by_dense = NoAnswerPolicy.margin_only(0.0), NoAnswerPolicy((0.1, 10.0), -2.0, 0.5)
    assert summarise([row], by_margin)["f1"] == 0.0 and summarise([row], by_dense)["f1"] == 100.0
    assert row.answered_by(by_dense) == (by_dense.probability((2.0, 0.9)), 1.0)
