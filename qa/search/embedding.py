"""Sentence embeddings with sentence-transformers, loaded once from a local folder."""

from __future__ import annotations

import numpy as np

from qa.settings import Settings


class Embedder:
    """Normalised sentence embeddings. ``__init__`` stores settings; ``warm_up()`` loads the model."""

    def __init__(self, model_path: str, name: str, batch_size: int) -> None:
        self.model_path = model_path
        self.name = name
        self.batch_size = batch_size
        self._model = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Embedder":
        return cls(settings.embedding_path(), settings.embedding_name, settings.embed_batch_size)

    def warm_up(self) -> None:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)

    @property
    def dim(self) -> int:
        self.warm_up()
        return int(self._model.get_embedding_dimension())

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Float32 matrix of unit-length rows, one per text, computed in batches."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)
