"""ONNX Runtime graphs exported from local weights once, kept in a cache folder, and run on the CPU.

The reader's span model and the question embedder both run this way. A graph's file name carries a digest
of the weights, the config and the exporting libraries, so a new model or a new library gets a new graph
and a stale one is never used. A graph is written whole or not at all (concurrent starts never see half of
one), a damaged one is built again, and an unwritable cache folder still gives a working graph, exported
for this process only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def cache_key(model_dir: Path) -> str:
    """A digest of what decides the exported graph: weights, config and the exporting libraries."""
    import onnxruntime
    import torch
    import transformers

    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).glob("*.safetensors")) + [Path(model_dir) / "config.json"]:
        digest.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    digest.update(f"torch {torch.__version__} transformers {transformers.__version__} "
                  f"onnxruntime {onnxruntime.__version__}".encode())
    return digest.hexdigest()[:24]


class CachedGraph:
    """An ONNX Runtime session over ``cache_dir/{name}-{cache_key}{variant}.onnx``, made by ``export(path)``
    when the file is missing or damaged."""

    def __init__(self, model_dir: Path, name: str, export: Callable[[Path], None], threads: int,
                 cache_dir: Path | None = None, variant: str = "", spin: bool = True) -> None:
        import onnxruntime as ort

        self._tmp = None
        if cache_dir is not None:
            try:
                Path(cache_dir).mkdir(parents=True, exist_ok=True)
                if not os.access(cache_dir, os.W_OK):
                    raise PermissionError(f"{cache_dir} is not writable")
            except OSError as exc:  # e.g. a read-only install: still serve, exporting once per process
                log.warning("%s graph cache unavailable (%s); exporting for this process only", name, exc)
                cache_dir = None
        if cache_dir is None:  # no cache: a graph for this process only
            self._tmp = tempfile.TemporaryDirectory(prefix=f"qa-{name}-onnx-")
            cache_dir = self._tmp.name
        self.path = Path(cache_dir) / f"{name}-{cache_key(Path(model_dir))}{variant}.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        if not spin:
            # ORT's worker threads otherwise spin-wait after a run, taking the cores from whatever runs next
            # (after the question embedder: the reader's forward pass, 48 -> 72 ms measured)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.path.exists():
            try:
                self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
                return
            except Exception as exc:  # a damaged cache file (e.g. a full disk): build it again
                log.warning("rebuilding the cached %s graph %s: %s", name, self.path, exc)
        log.info("exporting the %s to ONNX (once per weights): %s", name, self.path)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        try:
            export(partial)
            os.replace(partial, self.path)  # whole file or none
        finally:
            for leftover in partial.parent.glob(f"{partial.name}*"):  # the partial file and any step of it
                leftover.unlink(missing_ok=True)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, feed)
