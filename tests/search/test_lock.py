"""One writer at a time across processes, see qa/search/lock.py."""

import os
import subprocess
import time

import pytest

from qa.search.lock import IndexBusy, IndexLock
from qa.search.store import PassageIndex

from conftest import REPO


def test_a_second_writer_waits_and_says_whom_it_waits_for(tmp_path):
    first = IndexLock(tmp_path, "qa ingest")
    assert first.try_acquire()
    seen = []
    with pytest.raises(IndexBusy, match=rf"pid {os.getpid()} .*qa ingest"):
        IndexLock(tmp_path, "qa serve (HTTP write)", wait_seconds=0.3, on_wait=seen.append).acquire()
    assert seen and seen[0]["pid"] == os.getpid() and seen[0]["command"] == "qa ingest"
    first.release()
    with IndexLock(tmp_path, "next", wait_seconds=0.3):
        assert not IndexLock(tmp_path, "third").try_acquire()
    assert IndexLock(tmp_path, "fourth").try_acquire()


def _articles(folder, prefix, n):
    folder.mkdir()
    for i in range(n):
        (folder / f"{prefix}{i}.txt").write_text(f"{prefix} article {i}\nThe {prefix} council met on day {i} in Hue.\n")


def test_two_ingests_at_once_lose_nothing(tmp_path, index_copy):
    """Both processes start while the lock is held, so they really run into each other: each waits, says
    so, and in the end the index holds the seeds and both batches."""
    _articles(tmp_path / "a", "alpha", 5)
    _articles(tmp_path / "b", "beta", 5)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    qa = str(REPO / ".venv" / "bin" / "qa")
    holder = IndexLock(index_copy, "the test")
    assert holder.try_acquire()
    procs = [subprocess.Popen([qa, "ingest", str(tmp_path / x), "--index", str(index_copy)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for x in ("a", "b")]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum("waiting" in _peek(p) for p in procs) < 2:
        time.sleep(0.5)
    holder.release()
    outputs = [_peek(p) + p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all("waiting for the index lock held by" in o and "the test" in o for o in outputs), outputs
    docs = PassageIndex.load(index_copy).documents
    assert len(docs) == 15 and {f"alpha{i}" for i in range(5)} | {f"beta{i}" for i in range(5)} <= set(docs)


_buffers: dict = {}


def _peek(proc) -> str:
    """What a running process has printed so far, without blocking."""
    import select

    buf = _buffers.setdefault(proc.pid, [""])
    while select.select([proc.stdout], [], [], 0)[0]:
        chunk = os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
        if not chunk:
            break
        buf[0] += chunk
    return buf[0]
