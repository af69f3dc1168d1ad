"""schemathesis against the running service: its CLI, every phase (examples, coverage, fuzzing, stateful) and
every check (``--checks all``: no 5xx, status codes, content types, headers and bodies as documented, Allow
on OPTIONS and 405, ...), bounded examples, deterministic. Twice: with the write token configured and sent,
so the write routes are fuzzed too (into a private copy of the seed index), and without one (writes off: 403).
The server is uvicorn as ``qa serve`` configures it (qa/web/server.py), the shedding gate included."""

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from qa.search.store import PassageIndex
from qa.web.app import create_app
from qa.web.server import config

from conftest import make_pipeline, make_reader

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture(scope="module", params=["with the token", "without a token"])
def served(request, pipeline, settings, tmp_path_factory):
    """The base URL of a running server, and the headers the fuzzer sends."""
    token = request.param == "with the token"
    index_dir = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(settings.index_dir, index_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # a deadline no slow machine reaches: a question past it is an honest 503, but not what is tested here
    served = settings.model_copy(update={"index_dir": index_dir, "api_token": SecretStr("fuzz") if token else None,
                                         "host": "127.0.0.1", "port": port, "request_deadline_seconds": 600.0})
    p = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6),
                      top_k=3).with_index(PassageIndex.load(index_dir))
    server = uvicorn.Server(config(create_app(served, p), served, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", (["-H", "Authorization: Bearer fuzz"] if token else [])
    server.should_exit = True
    thread.join(timeout=10)


def test_schemathesis_with_every_check_finds_nothing(served, tmp_path):
    base, headers = served
    r = subprocess.run([SCHEMATHESIS, "run", f"{base}/schema/openapi.json", "--checks", "all", "--max-examples", "25",
                        "--generation-deterministic", "--no-color", "--request-timeout", "600", *headers],
                       capture_output=True, text=True, timeout=900, cwd=tmp_path)  # its cache folder goes there
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "API Operations" in r.stdout and "passed" in r.stdout  # it ran the operations, not nothing
