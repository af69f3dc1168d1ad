"""One writer at a time per index folder, across processes: ``qa ingest``, ``qa ingest --watch`` and the
server's HTTP writes all take the same lock (``flock`` on ``index_dir/LOCK``) around read, change and
write, so no writer builds on a snapshot that another is replacing. The holder writes who it is into the
lock file; a writer that has to wait says whom it waits for. The lock goes with its process, even a killed one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from qa.errors import UserProblem

LOCK_FILE = "LOCK"


class IndexBusy(UserProblem):
    """Another writer held the index for longer than this one would wait."""


def describe(owner: dict) -> str:
    if not owner:
        return "another writer"
    since = time.strftime("%H:%M:%S", time.localtime(owner.get("since", 0)))
    return f"pid {owner.get('pid')} on {owner.get('host')} ({owner.get('command')}, since {since})"


class IndexLock:
    """``with IndexLock(index_dir, "qa ingest"):`` holds the index's write lock.

    ``wait_seconds=None`` waits as long as it takes; otherwise ``IndexBusy`` after that long.
    ``on_wait(owner)`` is called once if the lock is taken, with what its holder wrote about itself.
    """

    def __init__(self, index_dir: Path, command: str, wait_seconds: float | None = None,
                 on_wait: Callable[[dict], None] | None = None) -> None:
        self.path = Path(index_dir) / LOCK_FILE
        self.command = command
        self.wait_seconds = wait_seconds
        self.on_wait = on_wait
        self._file = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                            "argv": sys.argv[:4], "since": time.time()}))
        f.flush()
        self._file = f
        return True

    def acquire(self) -> None:
        started = time.monotonic()
        told = False
        while not self.try_acquire():
            if not told and self.on_wait is not None:
                self.on_wait(self.holder())
                told = True
            if self.wait_seconds is not None and time.monotonic() - started >= self.wait_seconds:
                raise IndexBusy(f"the index in {self.path.parent} is being written by {describe(self.holder())}; "
                                "try again when it has finished")
            time.sleep(0.1)

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> "IndexLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
