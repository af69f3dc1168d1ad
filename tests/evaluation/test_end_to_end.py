"""End-to-end evaluation (qa eval), see qa/evaluation/end_to_end.py."""

import json

import pytest
from typer.testing import CliRunner

from qa.cli.main import app
from qa.evaluation.end_to_end import evaluate_pipeline, load_gold, retrieval_recall

from conftest import make_pipeline, make_reader

GOLD = [
    {"id": "a", "question": "Where was the 2018 coordination conference held?", "doc_id": "004_e78e7126cb0131b0",
     "answers": ["Vinh city"]},
    {"id": "b", "question": "Which directive of the Central Military Commission is dated 23rd July 2019?",
     "doc_id": "002_177afc6a93d74f24", "answers": ["Directive No. 747-CT/QUTW"]},
    {"id": "c", "question": "How many tanks does Military Region 4 own?", "doc_id": None, "answers": []},
]


@pytest.fixture
def gold_file(tmp_path):
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(json.dumps(g) for g in GOLD) + "\n")
    return p


def test_metrics_are_computed_through_the_pipeline(pipeline, gold_file):
    gold = load_gold(gold_file)
    silent = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=1e6))
    r = evaluate_pipeline(silent, gold)
    # saying "not found" to everything: right on the unanswerable one only
    assert r["no_answer_accuracy"] == 100.0 and r["f1"] == pytest.approx(100 / 3) and r["HasAns_f1"] == 0.0
    eager = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6))
    r = evaluate_pipeline(eager, gold)
    assert r["no_answer_accuracy"] == 0.0 and r["citation_validity"] == 100.0 and r["citations"] > 0
    assert r["latency_ms"]["p95"] >= r["latency_ms"]["p50"] > 0


def test_retrieval_recall_per_mode(pipeline, gold_file):
    rec = retrieval_recall(pipeline, load_gold(gold_file))
    assert set(rec) == {"hybrid", "dense", "lexical"}
    for r in rec.values():
        assert r["questions"] == 2
        assert r["recall@1"] <= r["recall@3"] <= r["recall@5"] <= 100.0
    assert rec["lexical"]["recall@5"] == 100.0


def test_cli_eval_writes_json(gold_file, tmp_path, monkeypatch, seed_index_dir, tiny_reader_dir):
    monkeypatch.setenv("QA_INDEX_DIR", str(seed_index_dir))
    monkeypatch.setenv("QA_READER_DIR", str(tiny_reader_dir))
    out = tmp_path / "res.json"
    r = CliRunner().invoke(app, ["eval", "--gold", str(gold_file), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "no-answer accuracy" in r.output and "R@3" in r.output
    assert json.loads(out.read_text())["end_to_end"]["questions"] == 3


def _refuse_constant(name):
    raise ValueError(f"not JSON: {name}")


def test_cli_eval_json_is_strict_json_when_a_group_has_no_questions(tmp_path, monkeypatch, seed_index_dir,
                                                                    tiny_reader_dir):
    """No unanswerable questions: no-answer accuracy is undefined, written as null (NaN would make tools
    such as JavaScript's JSON.parse refuse the whole file) and printed as n/a."""
    gold = tmp_path / "answerable.jsonl"
    gold.write_text(json.dumps(GOLD[0]) + "\n")
    monkeypatch.setenv("QA_INDEX_DIR", str(seed_index_dir))
    monkeypatch.setenv("QA_READER_DIR", str(tiny_reader_dir))
    out = tmp_path / "res.json"
    r = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "no-answer accuracy n/a\n" in r.output
    e = json.loads(out.read_text(), parse_constant=_refuse_constant)["end_to_end"]
    assert e["no_answer_accuracy"] is None and e["by_kind"]["where"]["no_answer_accuracy"] is None
    assert e["HasAns_f1"] is not None


def test_bad_gold_line_is_reported(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_text('{"id": "x"}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_gold(p)


def test_calibration_error_is_zero_for_honest_scores_and_large_for_overconfident_ones(tmp_path):
    from qa.evaluation.end_to_end import calibration, question_kind, reliability_plot

    honest = [{"score": 0.75, "f1": 1.0 if i % 4 else 0.0} for i in range(40)] + [{"score": None, "f1": 0.0}]
    cal = calibration(honest)
    assert cal["answered"] == 40 and abs(cal["expected_calibration_error"]) < 1e-9
    assert cal["bins"] == [{"from": 0.7, "to": 0.8, "count": 40, "mean_score": 0.75, "accuracy": 0.75}]
    overconfident = [{"score": 0.95, "f1": 1.0 if i % 2 else 0.0} for i in range(40)]
    assert abs(calibration(overconfident)["expected_calibration_error"] - 0.45) < 1e-9
    reliability_plot(cal, tmp_path / "r.png", "test")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [question_kind(q) for q in ("How many tanks?", "Who came?", "In which city?", "Tell me.")] == [
        "how many", "who", "which", "other"]
