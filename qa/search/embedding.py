"""Sentence embeddings with sentence-transformers, loaded once from a local folder.

On the CPU the same model runs as a fused ONNX Runtime graph where it can (``onnx_embedding.py``: about half the
time for one question, the same vectors); ``runtime`` picks: ``auto`` (the graph, falling
back to sentence-transformers if it cannot be built), ``onnx`` (the graph or an error) or ``torch``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from qa.settings import Settings

log = logging.getLogger(__name__)
RUNTIMES = ("auto", "torch", "onnx")


class Embedder:
    """Normalised sentence embeddings. ``__init__`` stores settings; ``warm_up()`` loads the model."""

    def __init__(self, model_path: str, name: str, batch_size: int, runtime: str = "torch", threads: int = 2,
                 cache_dir: str | Path | None = None) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown embedding runtime {runtime!r}: use auto, torch or onnx")
        self.model_path = model_path
        self.name = name
        self.batch_size = batch_size
        self.runtime = runtime
        self.threads = threads
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None  # where the exported graph is kept
        self.runtime_used: str | None = None  # "onnx" or "torch", once warmed up
        self._model = None
        self._onnx = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Embedder":
        return cls(settings.embedding_path(), settings.embedding_name, settings.embed_batch_size,
                   runtime=settings.embedding_runtime, threads=settings.threads, cache_dir=settings.cache_dir)

    def warm_up(self) -> None:
        if self.runtime_used is not None:
            return
        if self.runtime != "torch":
            from qa.search.onnx_embedding import OnnxSentenceEncoder

            try:
                self._onnx = OnnxSentenceEncoder(Path(self.model_path), self.threads, self.cache_dir)
                self.runtime_used = "onnx"
                return
            except Exception as exc:  # "auto" is a speed choice: any failure to build the graph falls back
                if self.runtime == "onnx":
                    raise
                log.warning("ONNX Runtime embedder unavailable (%s: %s); embedding with PyTorch", type(exc).__name__, exc)
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        self.runtime_used = "torch"

    @property
    def dim(self) -> int:
        self.warm_up()
        if self._onnx is not None:
            return self._onnx.dim
        return int(self._model.get_embedding_dimension())

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Float32 matrix of unit-length rows, one per text, computed in batches."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size, progress)
        vecs = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)
