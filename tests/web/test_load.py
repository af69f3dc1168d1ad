"""A short worst-case load on a real ``qa serve`` (the shipped reader): it sheds instead of collapsing,
see bench/bench_shedding.py for the 30-second run."""

import os
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from bench_shedding import load, percentile, summary  # noqa: E402
from serving import start_server, stop  # noqa: E402


def test_sixteen_worst_case_clients_get_answers_or_quick_503s_and_health_stays_fast(seed_index_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_INDEX_DIR": str(seed_index_dir),
           "QA_MAX_CONCURRENT_QUESTIONS": "1", "QA_MAX_QUEUED_QUESTIONS": "2", "QA_REQUEST_DEADLINE_SECONDS": "4",
           "QA_ANSWER_CACHE_SIZE": "0"}  # the clients repeat questions: each must be read, as new ones would be
    proc, base = start_server(env)
    try:
        result = load(base, clients=16, seconds=8)
    finally:
        stop(proc)
    print(summary(result))
    statuses = result["statuses"]
    assert set(statuses) <= {200, 503}, statuses  # no other 5xx, no client errors, no dropped connections
    assert statuses.get(200, 0) >= 2 and statuses.get(503, 0) >= 10  # it answered some and shed the rest
    assert max(result["accepted_s"]) <= 4.0 + 2.0  # accepted requests end within the deadline (plus transfer)
    # a refusal comes back after its pause (QA_SHED_HOLD_SECONDS, 0.25 x 0.5..1.5), not after a wait for a turn
    assert percentile(result["shed_s"], 0.5) < 0.75
    assert set(result["health_codes"]) == {200} and percentile(result["health_s"], 0.99) <= 0.25
