"""A real ``qa serve`` over a private copy of the seed index, with the tiny reader, for the tests of the programs
that reach the service from outside (``tests/client``, ``tests/mcp``): the server ``bench/serving.py`` starts."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from serving import QA, free_port, start_server, stop  # noqa: E402, F401

TOKEN = "s3cret-token"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def service_env(index_dir: Path, reader_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``qa`` process over ``index_dir`` with the tiny reader; ``extra`` are ``QA_*``
    settings. The tiny reader's spans are random, so its threshold is set: answers always (-1e6) by default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return {**env, **OFFLINE, "QA_INDEX_DIR": str(index_dir), "QA_READER_DIR": str(reader_dir),
            "QA_READER_RUNTIME": "torch", "QA_NO_ANSWER_THRESHOLD": "-1e6", **extra}


@contextmanager
def live_server(tmp_path_factory, seed_index_dir: Path, reader_dir: Path, **extra: str) -> Iterator[str]:
    """``qa serve`` with writes on (``TOKEN``) over a copy of the seed index: its base URL."""
    index = tmp_path_factory.mktemp("live") / "index"
    shutil.copytree(seed_index_dir, index)
    proc, base = start_server(service_env(index, reader_dir, QA_API_TOKEN=TOKEN, QA_INDEX_POLL_SECONDS="0.5", **extra),
                              wait_seconds=600)  # a busy machine can take minutes to load torch and the models
    try:
        yield base
    finally:
        stop(proc)


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that takes connections and never answers (for time-outs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (for a service that cannot be reached)."""
    return free_port()
