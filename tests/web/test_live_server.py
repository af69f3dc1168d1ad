"""The write contract through a real ``qa serve`` process, with ``qa ingest`` writing from another process."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from serving import QA, start_server, stop  # noqa: E402


@pytest.fixture
def server(index_copy, tiny_reader_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_INDEX_DIR": str(index_copy),
           "QA_READER_DIR": str(tiny_reader_dir), "QA_READER_RUNTIME": "torch", "QA_API_TOKEN": "tok",
           "QA_INDEX_POLL_SECONDS": "0.5"}
    proc, base = start_server(env)
    yield base, env
    stop(proc)


def test_writes_and_other_writers_through_a_real_server(server, tmp_path):
    base, env = server
    auth = {"Authorization": "Bearer tok"}
    doc = {"id": "bridge", "text": "Bridge opens\nThe Rach Mieu 2 bridge opened to traffic on Friday morning."}
    assert httpx.post(base + "/api/documents", json={"documents": [doc]}).status_code == 401
    r = httpx.post(base + "/api/documents", json={"documents": [doc]}, headers=auth, timeout=60)
    assert r.status_code == 200 and r.json()["added"] == ["bridge"]
    hits = httpx.get(base + "/api/search", params={"q": "Rach Mieu bridge", "k": 1}).json()["results"]
    assert hits[0]["doc_id"] == "bridge"
    (tmp_path / "flood.txt").write_text("Flood warning\nThe Ma river rose two metres above the alarm level.\n")
    r = subprocess.run([QA, "ingest", str(tmp_path / "flood.txt")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and httpx.get(base + "/api/documents/flood").status_code != 200:
        time.sleep(0.2)
    assert httpx.get(base + "/api/documents/flood").status_code == 200
    assert {"bridge", "flood"} <= {d["doc_id"] for d in httpx.get(base + "/api/documents").json()}
    assert httpx.delete(base + "/api/documents/bridge", headers=auth, timeout=60).status_code == 204
    assert httpx.get(base + "/api/documents/bridge").status_code == 404
    assert httpx.delete(base + "/api/documents/bridge", headers=auth, timeout=60).status_code == 404


def test_connections_that_never_finish_their_headers_are_closed(index_copy, tiny_reader_dir, monkeypatch):
    """Slow-loris: sockets that send half a request are closed after QA_HEADER_TIMEOUT_SECONDS, and the
    service keeps answering everyone else meanwhile."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_INDEX_DIR": str(index_copy),
           "QA_READER_DIR": str(tiny_reader_dir), "QA_READER_RUNTIME": "torch", "QA_HEADER_TIMEOUT_SECONDS": "1"}
    proc, base = start_server(env)
    port = int(base.rsplit(":", 1)[1])
    try:
        socks = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(s)
        assert httpx.get(base + "/health", timeout=5).status_code == 200  # others are still served
        time.sleep(2.5)
        closed = 0
        for s in socks:
            s.settimeout(2)
            try:
                closed += s.recv(1024) == b""
            except (ConnectionResetError, socket.timeout):
                closed += 1
            s.close()
        assert closed == len(socks)
        assert httpx.get(base + "/health", timeout=5).status_code == 200
        # a normal keep-alive connection is not cut while it keeps asking
        with httpx.Client(base_url=base) as c:
            for _ in range(3):
                assert c.get("/health").status_code == 200
                time.sleep(0.6)
    finally:
        stop(proc)
