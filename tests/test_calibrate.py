"""Fitting the no-answer decision through the real pipeline, see qa/calibrate.py."""

import json

from qa.calibrate import calibrate
from qa.retrieval import FusionParams
from qa.no_answer import FEATURES
from qa.reader.model import ExtractiveReader
from qa.reader.squad import load_squad


def test_calibrate_runs_the_pipeline_and_fits_a_policy(tmp_path, tiny_reader_dir, embedder):
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
    reader = ExtractiveReader(tiny_reader_dir, max_length=64, stride=16)
    for art in data:
        para = art["paragraphs"][0]
        top = reader.read(para["qas"][0]["question"], [para["context"]])[0][0].text
        para["qas"][0]["answers"] = [{"text": top, "answer_start": para["context"].index(top)}]
    path.write_text(json.dumps({"data": data}))
    res = calibrate(reader, embedder, load_squad(path), top_k=1, mode="lexical", chunk_words=50, overlap=10,
                    fusion=FusionParams(), foreign=load_squad(path), foreign_share=0.25)
    assert len(res["policy"]["weights"]) == len(FEATURES) == len(res["features"])
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


def test_removed_paragraphs_make_their_questions_unanswerable():
    from qa.calibrate import remove_paragraphs
    from qa.reader.squad import Answer, QAExample

    exs = [QAExample(f"q{i}", f"question {i}?", f"context {i % 10}", (Answer("context", 0),), f"art{i % 3}")
           for i in range(100)]
    out, gone = remove_paragraphs(exs, 0.3, seed=1)
    assert 0 < len(gone) < 10 and len(out) == len(exs)
    for before, after in zip(exs, out):
        assert (before.context in gone) == after.is_impossible  # exactly the removed paragraphs' questions
        assert after.question == before.question
    assert remove_paragraphs(exs, 0.3, seed=1)[1] == gone  # deterministic
    assert remove_paragraphs(exs, 0.3, seed=2)[1] != gone  # `qa reader calibrate --seed` draws another split
