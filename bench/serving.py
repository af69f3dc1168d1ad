"""Starting a real ``qa serve`` on a free port for the benchmarks and the tests that need a whole server, and the
latency percentile they report."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx

QA = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "qa")


def percentile(xs: list[float], q: float, empty: float = 0.0) -> float:
    """The ``q`` quantile (0..1) of ``xs`` by rank; ``empty`` when there is none."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else empty


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, args: tuple[str, ...] = (), wait_seconds: float = 180) -> tuple[subprocess.Popen, str]:
    """``qa serve`` with ``env``, once ``/health`` answers 200: the process and its base URL."""
    port = free_port()
    proc = subprocess.Popen([QA, "serve", "--port", str(port), *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("qa serve did not come up")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)
