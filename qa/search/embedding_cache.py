"""Embedding work that survives a killed write: vectors are kept in ``index_dir/embedding-cache/`` block by
block as they are computed, and a write that starts again takes them instead of embedding the same texts
again. The folder is emptied once a snapshot holding them has been written."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

from qa.search.embedding import Embedder

FOLDER = "embedding-cache"


class EmbeddingCache:
    def __init__(self, index_dir: Path, model_name: str, block: int = 256) -> None:
        self.folder = Path(index_dir) / FOLDER / hashlib.sha1(model_name.encode()).hexdigest()[:12]
        self.block = block  # texts embedded between two saves
        self._known: dict[str, np.ndarray] | None = None  # read from disk once per write, then kept up to date

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def load(self) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for part in sorted(self.folder.glob("part-*.npz")) if self.folder.is_dir() else []:
            if part.name.endswith(".tmp.npz"):  # cut short by a kill before it was complete
                part.unlink(missing_ok=True)
                continue
            try:
                with np.load(part) as z:
                    found.update(zip(z["keys"].tolist(), z["vectors"]))
            except (OSError, ValueError, KeyError):  # a part cut short by a kill: embed those again
                part.unlink(missing_ok=True)
        return found

    def save(self, keys: list[str], vectors: np.ndarray) -> None:
        """Keep vectors computed elsewhere (on a cluster) for the next write to take."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{secrets.token_hex(6)}"
        tmp = self.folder / f"{name}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vectors=vectors)
        os.replace(tmp, self.folder / f"{name}.npz")
        if self._known is not None:
            self._known.update(zip(keys, vectors))

    def embed(self, embedder: Embedder, texts: list[str], progress: bool = False) -> tuple[np.ndarray, int]:
        """One vector per text, and how many of them were computed now (the rest came from the cache)."""
        keys = [self.key(t) for t in texts]
        if self._known is None:
            self._known = self.load()
        known = self._known
        todo = sorted({k: i for i, k in enumerate(keys) if k not in known}.values())
        for b in range(0, len(todo), self.block):
            rows = todo[b : b + self.block]
            vectors = embedder.embed([texts[i] for i in rows], progress=progress)
            self.save([keys[i] for i in rows], vectors)
        matrix = np.stack([known[k] for k in keys]) if keys else np.zeros((0, embedder.dim), dtype=np.float32)
        return np.ascontiguousarray(matrix, dtype=np.float32), len(todo)

    def clear(self) -> None:
        shutil.rmtree(self.folder.parent, ignore_errors=True)
        self._known = None
