"""bench/bench_stages.py briefly, over the seed index and the tiny reader: one run accounts for every stage of
/api/ask, and the stages add up to the time the client saw."""

import json
import os
import subprocess
import sys

from conftest import REPO


def test_the_stage_breakdown_accounts_for_every_stage_of_a_question(seed_index_dir, tiny_reader_dir, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_READER_DIR": str(tiny_reader_dir),
           "QA_READER_RUNTIME": "torch", "QA_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "stages.json"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "bench_stages.py"), "--index", str(seed_index_dir),
                        "--limit", "4", "--rounds", "2", "--out", str(out)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "forward passes" in r.stdout and "JSON encoding" in r.stdout, r.stdout
    report = json.loads(out.read_text())
    assert report["requests"] == 8 and len(report["per_request"]) == 8
    stages = report["stages"]
    for name in ("embed", "bm25", "faiss", "fusion", "tokenise", "pad", "forward", "decode", "no_answer", "merge",
                 "admission", "json"):
        assert stages[name]["mean_ms"] > 0, name
    assert report["forward_passes"]["per_question"] >= 1 and report["forward_passes"]["padded_tokens_each_mean"] > 0
    # the stages, the rest of the app and HTTP are the client's whole time, no more, no less
    assert abs(sum(s["share"] for s in stages.values()) - 1) < 1e-6
    assert all(s["mean_ms"] >= 0 for s in stages.values())  # nothing counted twice: no remainder below zero
    assert report["reader"]["runtime"] == "torch" and report["cpu"]["cores"] >= 1
