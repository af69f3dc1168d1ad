"""Training the answer verifier on the reader's own proposals, see qa/training/verifier.py."""

import json

from qa.answering.verifier import AnswerVerifier
from qa.settings import Settings
from qa.training.verifier import VerifierTrainConfig, propose, train_verifier

from conftest import make_reader


def _squad(tmp_path, reader) -> str:
    """Four answerable questions whose gold is the tiny reader's own best span (so they count as right),
    and four unanswerable ones."""
    paras = [("The conference was held in Vinh city on April 24.", "Where was the conference held?"),
             ("Major General Ha Tan Tien is Deputy Commander.", "Who is Deputy Commander?"),
             ("The plan was issued on 18th September 2019.", "When was the plan issued?"),
             ("Troops brought rice to children in Huoi Son village.", "What did troops bring?")]
    data = []
    for i, (ctx, q) in enumerate(paras):
        top = reader.read(q, [ctx])[0][0].text
        data.append({"title": f"art{i}", "paragraphs": [{"context": ctx, "qas": [
            {"id": f"{i}", "question": q, "is_impossible": False, "answers": [{"text": top, "answer_start": ctx.index(top)}]},
            {"id": f"{i}n", "question": "Which team won the football final last night?", "is_impossible": True, "answers": []}]}]})
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": data}))
    return str(path)


def test_proposals_are_judged_against_the_gold_answers(tmp_path, tiny_reader_dir):
    reader = make_reader(tiny_reader_dir, max_length=64, stride=16)
    rows = propose(reader, [_squad(tmp_path, reader)], synthetic_negatives=0.0)
    assert len(rows) == 8
    assert sorted(r.right for r in rows) == [False] * 4 + [True] * 4
    assert all(not r.right for r in rows if r.proposal.question.startswith("Which team"))
    assert all(r.proposal.passage[r.proposal.start:r.proposal.end] for r in rows)


def test_a_limit_proposes_for_a_seeded_sample_of_the_questions(tmp_path, tiny_reader_dir):
    reader = make_reader(tiny_reader_dir, max_length=64, stride=16)
    data = _squad(tmp_path, reader)
    first = propose(reader, [data], synthetic_negatives=0.0, limit=3)
    again = propose(reader, [data], synthetic_negatives=0.0, limit=3)
    assert len(first) == 3 and [r.proposal for r in first] == [r.proposal for r in again]
    assert len(propose(reader, [data], synthetic_negatives=0.0, limit=0)) == 8


def test_training_learns_to_tell_right_answers_from_wrong_ones_and_ships_a_loadable_verifier(tmp_path, tiny_reader_dir):
    """Trained a few dozen steps on the tiny set, the verifier must score every right proposal above every
    wrong one, and what it writes is what the service loads."""
    reader = make_reader(tiny_reader_dir, max_length=64, stride=16)
    data = _squad(tmp_path, reader)
    cfg = VerifierTrainConfig(data=[data], out=str(tmp_path / "verifier"), reader=str(tiny_reader_dir),
                              synthetic_negatives=0.0, epochs=40.0, lr=2e-3, batch_size=8, bf16=False, max_length=64,
                              reach=Settings().verifier_reach)
    out = train_verifier(cfg, reader)
    assert json.loads((out / "training_config.json").read_text())["epochs"] == 40.0
    verifier = AnswerVerifier.from_settings(Settings(verifier_dir=out))
    rows = propose(reader, [data], synthetic_negatives=0.0)
    logits = verifier.run([r.proposal for r in rows])
    right = [v for v, r in zip(logits, rows) if r.right]
    wrong = [v for v, r in zip(logits, rows) if not r.right]
    assert min(right) > max(wrong), (right, wrong)
