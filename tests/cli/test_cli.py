"""The ``qa`` command line, see qa/cli/ (run in-process with typer's runner)."""

import json
import re

import pytest
from typer.testing import CliRunner

from qa.cli.main import app

from conftest import SEEDS, moved_squad

runner = CliRunner()


@pytest.fixture
def env(monkeypatch, seed_index_dir, tiny_reader_dir):
    monkeypatch.setenv("QA_INDEX_DIR", str(seed_index_dir))
    monkeypatch.setenv("QA_READER_DIR", str(tiny_reader_dir))
    monkeypatch.setenv("QA_NO_ANSWER_THRESHOLD", "-1000000")  # the tiny reader is random: accept its spans


def test_version_names_the_service_and_the_reader_it_would_serve(monkeypatch, tiny_reader_dir):
    """pyproject.toml's version and the version the reader's qa_config.json names; a reader that names none is
    said to, with its folder."""
    import tomllib

    from conftest import REPO
    from qa.reader import config

    service = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    shipped = config.read(REPO / "models" / "reader")["version"]
    monkeypatch.setenv("QA_READER_DIR", str(REPO / "models" / "reader"))
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"qa-news {service}, reader {shipped}"
    monkeypatch.setenv("QA_READER_DIR", str(tiny_reader_dir))
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == (
        f"qa-news {service}, reader in {tiny_reader_dir} (its qa_config.json names no version)")


def test_eval_plot_without_matplotlib_says_which_extra_before_it_runs(env, monkeypatch):
    """The service's install has no matplotlib (it is in the train extra): --plot says so at once, exit 2."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    r = runner.invoke(app, ["eval", "--gold", str(SEEDS.parent / "eval" / "gold.jsonl"), "--plot", "x.png"])
    assert r.exit_code == 2 and 'pip install -e ".[train]"' in r.output and "Traceback" not in r.output
    assert "F1" not in r.output  # nothing was evaluated


def test_ingest_builds_an_index_then_reports_nothing_new(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    out = tmp_path / "idx"
    r = runner.invoke(app, ["ingest", str(SEEDS), "--index", str(out)])
    assert r.exit_code == 0, r.output
    assert "5 added" in r.output and (out / "CURRENT").exists()
    r = runner.invoke(app, ["ingest", str(SEEDS), "--index", str(out)])
    assert r.exit_code == 0 and "5 unchanged" in r.output and "0 passages and 0 sentences embedded" in r.output


def test_ingest_of_a_missing_path_is_a_clear_error_and_writes_no_empty_index(tmp_path):
    r = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")])
    assert r.exit_code == 1 and "no such file or folder" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "idx" / "CURRENT").exists()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.pdf").write_bytes(b"%PDF")
    r = runner.invoke(app, ["ingest", str(tmp_path / "empty"), "--index", str(tmp_path / "idx")])
    assert r.exit_code == 1 and "no documents could be loaded" in r.output
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_ingest_takes_the_good_documents_lists_the_bad_ones_and_exits_1(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(x) for x in [
        {"id": "fine", "title": "Fine", "text": "A good article about the harbour."},
        {"id": "t", "title": 123, "text": "A title that is a number."},
        {"id": None, "text": "No id."},
        {"id": {"nested": 1}, "text": "An object as id."},
        {"id": "a/b", "text": "A slash in the id."},
    ]) + "\n")
    (tmp_path / "nul.txt").write_bytes(b"\x00" * 64)
    r = runner.invoke(app, ["ingest", str(SEEDS), str(bad), str(tmp_path / "nul.txt"), str(tmp_path / "gone.txt"),
                            "--index", str(tmp_path / "idx")])
    assert r.exit_code == 1, r.output
    assert "6 added" in r.output and "6 rejected" in r.output and "Traceback" not in r.output
    for reason in ("'title' must be text", "'id' must be text, not NoneType", "'id' must be text, not dict",
                   "no spaces, slashes", "control characters", "no such file or folder"):
        assert reason in r.output, reason


def test_ask_prints_answer_and_citation(env):
    r = runner.invoke(app, ["ask", "Where was the 2018 coordination conference held?"])
    assert r.exit_code == 0, r.output
    assert "1. " in r.output and "chars " in r.output


def test_ask_json_is_the_api_shape(env, seed_index_dir):
    r = runner.invoke(app, ["ask", "Where was the 2018 coordination conference held?", "--json", "--top-k", "2"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert set(body) == {"question", "answers", "took_ms"}
    c = body["answers"][0]["citations"][0]
    assert list(c) == ["doc_id", "title", "start", "end", "passage", "passage_start",
                       "url", "published", "source", "author", "page", "other_sources"]


def test_ask_rejects_empty_question(env):
    r = runner.invoke(app, ["ask", "   "])
    assert r.exit_code == 2 and "empty" in r.output


def test_commands_without_reader_weights_refuse_and_say_where(env, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_READER_DIR", str(tmp_path / "no-reader"))
    for args in (["ask", "Who?"], ["serve", "--port", "1"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        assert "no reader weights in" in r.output and "no-reader" in r.output


def test_ask_without_index_says_how_to_build_it(env, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "empty"))
    r = runner.invoke(app, ["ask", "Who?"])
    assert r.exit_code == 2 and "qa ingest" in r.output


def test_bad_settings_are_a_clear_error_not_a_traceback(env, monkeypatch):
    monkeypatch.setenv("QA_READER_DTYPE", "fp8")
    r = runner.invoke(app, ["ask", "Who?"])
    assert r.exit_code == 2 and "QA_READER_DTYPE" in r.output and "Traceback" not in r.output
    monkeypatch.delenv("QA_READER_DTYPE")
    r = runner.invoke(app, ["ask", "Who?", "--top-k", "0"])
    assert r.exit_code == 2 and "top_k" in r.output
    monkeypatch.setenv("QA_BM25_TOKEN_PATTERN", "(")
    r = runner.invoke(app, ["ask", "Who?"])
    assert r.exit_code == 2 and "QA_BM25_TOKEN_PATTERN" in r.output and "not a regular expression" in r.output


def test_reader_train_refuses_an_unknown_device_before_training(tiny_squad, tmp_path):
    r = runner.invoke(app, ["reader", "train", "--data", str(tiny_squad), "--out", str(tmp_path / "run"), "--device", "tpu"])
    assert r.exit_code == 2 and "--device 'tpu'" in r.output
    assert not (tmp_path / "run").exists()


def test_reader_eval_reads_with_qa_threads_unless_a_flag_says_otherwise(tiny_squad, tiny_reader_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_THREADS", "1")
    base = ["reader", "eval", "--data", str(tiny_squad), "--model", str(tiny_reader_dir), "--runtime", "torch"]
    r = runner.invoke(app, base + ["--out", str(tmp_path / "a.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "a.json").read_text())["threads"] == 1
    r = runner.invoke(app, base + ["--threads", "3", "--out", str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "b.json").read_text())["threads"] == 3


def test_reader_eval_tunes_on_other_files_and_reports_every_article_of_data(tiny_squad, tiny_reader_dir, tmp_path):
    """--tune-data: the threshold comes from other held-out files, so all of --data is reported; a file that
    shares paragraphs with --data cannot tune (its questions would choose the threshold they are scored at)."""
    other = moved_squad(tiny_squad, "tune", "Elsewhere. ")
    tune = tmp_path / "tune.json"
    tune.write_text(json.dumps(other))
    base = ["reader", "eval", "--data", str(tiny_squad), "--model", str(tiny_reader_dir), "--runtime", "torch"]
    r = runner.invoke(app, base + ["--tune-data", str(tune), "--out", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["tune_articles"] == ["tune::tune-art0", "tune::tune-art1"]
    assert res["report_articles"] == ["tiny::art0", "tiny::art1"]
    assert res["report"]["at_threshold"]["total"] == 10 and res["tune"]["at_threshold"]["total"] == 10
    r = runner.invoke(app, base + ["--tune-data", str(tiny_squad)])
    assert r.exit_code == 2 and "both in the tuning and the evaluation data" in r.output


def test_reader_train_options_are_the_training_configs_fields(tiny_squad, tmp_path, monkeypatch):
    """Each TrainConfig field is an option of ``qa reader train``, and what is given reaches the run."""
    import dataclasses

    from qa.cli import reader as reader_cli
    from qa.training.config import TrainConfig

    r = runner.invoke(app, ["reader", "train", "--help"], terminal_width=200)
    for f in dataclasses.fields(TrainConfig):
        assert f"--{f.name.replace('_', '-')}" in r.output, f.name
    seen = {}
    monkeypatch.setattr("qa.training.train.train", lambda cfg: seen.setdefault("cfg", cfg) and tmp_path / "final")
    r = runner.invoke(app, ["reader", "train", "--data", str(tiny_squad), "--out", str(tmp_path / "run"), "--lr", "3e-5",
                            "--max-answer-words", "7", "--resume", "--holdout", str(tiny_squad)])
    assert r.exit_code == 0, r.output
    cfg = seen["cfg"]
    assert cfg == TrainConfig(data=[str(tiny_squad)], out=str(tmp_path / "run"), lr=3e-5, max_answer_words=7,
                              resume=True, holdout=[str(tiny_squad)])
    assert reader_cli.reader_train.__doc__


@pytest.mark.parametrize("stop_signal", ["SIGINT", "SIGTERM"])
def test_ingest_watch_takes_files_dropped_into_the_folder(tmp_path, stop_signal):
    """Files dropped into the folder go in; SIGINT or SIGTERM stops it cleanly, even when the process was
    started with SIGINT ignored, as a shell's background job is (Python then raises no KeyboardInterrupt)."""
    import os
    import signal
    import subprocess
    import time

    from conftest import REPO
    from qa.search.store import PassageIndex

    drop, index = tmp_path / "drop", tmp_path / "idx"
    drop.mkdir()
    (drop / "first.txt").write_text("First\nThe market reopened on Monday.\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "qa"), "ingest", str(drop), "--index", str(index), "--watch",
                             "--interval", "0.3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))

    def holds(doc_id: str) -> bool:
        return PassageIndex.exists(index) and doc_id in PassageIndex.load(index).manifest.documents

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not holds("first"):
            time.sleep(0.3)
        assert holds("first")
        (drop / "second.txt").write_text("Second\nThe harbour was dredged in June.\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not holds("second"):
            time.sleep(0.3)
        assert holds("second")
    finally:
        proc.send_signal(getattr(signal, stop_signal))
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0] + "\n[did not stop within 30 s]"
    assert proc.returncode == 0 and "stopped watching" in out, out
    assert PassageIndex.load(index).manifest.documents.keys() == {"first", "second"}


def test_ray_takes_an_address_only_when_the_next_word_is_one():
    from qa.cli.main import _ray_address_argument

    assert _ray_address_argument(["ingest", "--ray", "10.0.0.5:6379", "seeds"]) == [
        "ingest", "--ray", "--ray-address", "10.0.0.5:6379", "seeds"]
    assert _ray_address_argument(["serve", "--ray", "ray://head:10001"])[-2:] == ["--ray-address", "ray://head:10001"]
    assert _ray_address_argument(["ingest", "--ray", "seeds"]) == ["ingest", "--ray", "seeds"]  # a path stays a path


def test_ingest_on_ray_writes_the_index_and_reports_as_a_plain_ingest(tmp_path, local_ray):
    out = tmp_path / "idx"
    r = runner.invoke(app, ["ingest", "--ray", str(SEEDS), "--index", str(out)])
    assert r.exit_code == 0, r.output
    assert "5 added" in r.output and (out / "CURRENT").exists()
    plain = runner.invoke(app, ["ingest", str(SEEDS), "--index", str(tmp_path / "plain")])
    def counts(output):  # "5 added, ... N passages and M sentences embedded; index now holds D documents, P passages"
        return re.search(r"\d+ added, .*? passages \(", output).group(0)

    assert counts(r.output) == counts(plain.output), "the same documents, passages and sentences as a plain ingest"


def test_ingest_watch_refuses_ray(tmp_path):
    r = runner.invoke(app, ["ingest", "--ray", str(tmp_path), "--watch"])
    assert r.exit_code == 2 and "without --ray" in r.output


def test_calibrate_with_a_verifier_that_is_not_there_says_how_to_make_one(tmp_path, tiny_squad, tiny_reader_dir, monkeypatch):
    monkeypatch.setenv("QA_VERIFIER_DIR", str(tmp_path / "none"))
    r = runner.invoke(app, ["reader", "calibrate", "--data", str(tiny_squad), "--model", str(tiny_reader_dir), "--verifier"])
    assert r.exit_code == 2 and "qa reader verifier" in r.output and "Traceback" not in r.output


def test_ask_with_a_policy_that_needs_a_missing_verifier_is_a_clear_error(env, tmp_path, tiny_reader_dir, monkeypatch):
    import shutil

    from qa.answering.no_answer import FEATURES

    d = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, d)
    cfg = json.loads((d / "qa_config.json").read_text())
    cfg["no_answer_policy"] = {"weights": [1] + [0] * (len(FEATURES) - 2) + [1], "bias": 0.0, "cutoff": 0.5}  # the verifier's too
    (d / "qa_config.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("QA_READER_DIR", str(d))
    monkeypatch.delenv("QA_NO_ANSWER_THRESHOLD")
    monkeypatch.setenv("QA_VERIFIER_DIR", str(tmp_path / "none"))
    r = runner.invoke(app, ["ask", "Where was the conference held?"])
    assert r.exit_code == 2 and "no answer verifier" in r.output and "Traceback" not in r.output


def test_reader_decide_with_the_verifier_gathers_its_logit_and_stores_a_policy_that_weighs_it(
        tiny_squad, tiny_reader_dir, tiny_verifier_dir, tmp_path, monkeypatch):
    """``qa reader decide --verifier`` reads every question with the verifier beside the reader: each row gains
    the verifier's logit as its last feature, and the policy written for the reader weighs it (so the service
    loads the verifier); without the flag the rows and the policy have one feature fewer."""
    import shutil

    from qa.answering.no_answer import feature_names
    from qa.training.decide import load_rows

    reader = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, reader)
    monkeypatch.setenv("QA_VERIFIER_DIR", str(tiny_verifier_dir))
    base = ["reader", "decide", "--model", str(reader), "--data", str(tiny_squad), "--policy-data", str(tiny_squad),
            "--prior", "0.5", "--foreign-share", "0", "--removed-share", "0"]
    r = runner.invoke(app, base + ["--rows", str(tmp_path / "v.json.gz"), "--verifier", "--write-prior", "0.5"])
    assert r.exit_code == 0, r.output
    parts, meta = load_rows(tmp_path / "v.json.gz")
    assert meta["verifier"] == str(tiny_verifier_dir)
    assert {len(row.features) for rows in parts.values() for row in rows} == {len(feature_names(True))}
    assert len({row.features[-1] for row in parts["decision"]}) > 1  # a logit per question, not a constant
    stored = json.loads((reader / "qa_config.json").read_text())["no_answer_policy"]
    assert stored["features"] == list(feature_names(True)) and len(stored["weights"]) == len(feature_names(True))

    r = runner.invoke(app, base + ["--rows", str(tmp_path / "plain.json.gz")])
    assert r.exit_code == 0, r.output
    parts, meta = load_rows(tmp_path / "plain.json.gz")
    assert meta["verifier"] is None
    assert {len(row.features) for rows in parts.values() for row in rows} == {len(feature_names(False))}
