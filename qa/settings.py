"""The one settings object: every default and every input limit of the service, read from ``QA_*``
environment variables; CLI flags override them. Stages take explicit values in their constructors and
build themselves from here with ``from_settings``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qa.packaged import packaged_minilm_path

REPO_ROOT = Path(__file__).resolve().parent.parent

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = get_args(Mode)

# The fixed input limits (``limits.py``, importable where pydantic is not installed), re-exported here.
from qa.limits import (  # noqa: E402, F401
    MAX_ANSWERS, MAX_DOC_ID_CHARS, MAX_DOCUMENTS_PER_REQUEST, MAX_QUESTION_CHARS, MAX_TITLE_CHARS, MAX_TOP_K)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # where things live
    seeds_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    reader_dir: Path = REPO_ROOT / "models" / "reader"
    verifier_dir: Path = REPO_ROOT / "models" / "verifier"  # read when the reader's no-answer policy weighs it
    cache_dir: Path = REPO_ROOT / ".cache"  # derived files that are rebuilt when missing (the reader's ONNX graph)
    embedding_model: str = Field(default="", description="folder of a sentence-transformers model; empty = packaged all-MiniLM-L6-v2")
    embedding_name: str = "all-MiniLM-L6-v2"
    embedding_runtime: Literal["auto", "torch", "onnx"] = Field(
        default="auto", description="onnx: the embedder as a fused ONNX Runtime graph (same vectors, faster); "
                                    "auto: onnx, or sentence-transformers if the graph cannot be built")

    # the corpus: what goes in, and how it is cut
    chunk_words: int = Field(default=120, ge=20, le=1000)
    chunk_overlap_words: int = Field(default=30, ge=0, le=500)
    max_passage_chars: int = Field(default=4000, ge=200,
                                   description="no passage is longer, even text without spaces (split by characters)")
    max_document_bytes: int = Field(default=2_000_000, ge=1000, description="a longer document is rejected (UTF-8 bytes)")
    max_content_bytes: int = Field(default=20_000_000, ge=1000,
                                   description="a web page, feed or PDF as published may be this large (its text: "
                                               "max_document_bytes)")
    fetch_timeout_seconds: float = Field(default=20.0, gt=0.0, description="`qa ingest URL`: connect and read time-out")
    fetch_max_redirects: int = Field(default=5, ge=0, le=20, description="`qa ingest URL`: redirects followed")
    feed_poll_seconds: float = Field(default=300.0, gt=0.0, description="`qa ingest --feed URL --watch`: seconds between polls")
    max_documents_per_request: int = Field(default=MAX_DOCUMENTS_PER_REQUEST, ge=1, le=MAX_DOCUMENTS_PER_REQUEST,
                                           description="documents in one POST /api/documents")
    api_token: SecretStr | None = Field(default=None, description="bearer token for the write routes; unset: writes are off")
    write_wait_seconds: float = Field(default=60.0, ge=0.0,
                                      description="how long an HTTP write waits for another writer's lock before a 503")
    max_request_bytes: int = Field(default=64_000_000, ge=10_000, description="a larger request body is a 413")
    index_poll_seconds: float = Field(default=2.0, gt=0.0,
                                      description="how often the server looks for a snapshot written by another process")

    # retrieval
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    retrieval_mode: Mode = "hybrid"
    lexical_weight: float = Field(default=0.55, ge=0.0, le=1.0, description="weight of the lexical side in score fusion")
    sentence_weight: float = Field(default=0.8, ge=0.0, le=1.0,
                                   description="share of the best sentence's BM25 in the lexical side (rest: passage BM25)")
    dense_sentence_weight: float = Field(default=0.7, ge=0.0, le=1.0,
                                         description="share of the best sentence's cosine in the dense side (rest: passage cosine)")
    candidates: int = Field(default=50, ge=1, description="passages each retriever proposes before fusion")
    bm25_k1: float = Field(default=1.2, gt=0.0)
    bm25_b: float = Field(default=0.75, ge=0.0, le=1.0)
    bm25_stopwords: str = "en"
    bm25_token_pattern: str = Field(default=r"(?u)\b\w+\b",
                                    description="what BM25 counts as a word; one character counts too, so "
                                                "'Military Region 2' and 'Military Region 4' differ")

    # reading
    max_answers: int = Field(default=3, ge=1, le=MAX_ANSWERS)
    answer_cache_size: int = Field(default=1024, ge=0, le=1_000_000,
                                   description="answers kept for repeated questions over the same index snapshot "
                                               "(0: none)")
    recent_margin: float = Field(default=0.1, ge=0.0, le=1.0,
                                 description='order "recent": answers within this of the best score come newest first')
    spans_per_passage: int = Field(default=2, ge=1, le=10, description="spans the reader proposes per passage")
    reader_max_length: int = Field(default=256, ge=32, le=512, description="tokens per reader window")
    reader_stride: int = Field(default=64, ge=0, description="tokens shared by consecutive windows of a long passage")
    reader_max_question_tokens: int = Field(default=64, ge=8,
                                            description="a longer question is cut to this (and to a quarter of a window)")
    max_answer_tokens: int = Field(default=30, ge=1)
    reader_batch_size: int = Field(default=16, ge=1)
    reader_int8: bool = Field(default=False, description="dynamic int8 quantisation of the reader (ONNX Runtime's "
                                                         "graph unless the runtime is torch); it loses no-answer "
                                                         "accuracy and is no faster on every CPU: docs/BENCHMARKS.md")
    reader_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="bfloat16 where the CPU has bf16 kernels (auto), or force one")
    reader_runtime: Literal["auto", "torch", "onnx"] = Field(
        default="auto", description="onnx: fused ONNX Runtime kernels on the CPU (fp32, or int8); auto: onnx unless bf16")
    reader_device: Literal["cpu", "cuda"] = Field(default="cpu", description="cuda only for held-out evaluation on a GPU")
    no_answer_threshold: float | None = Field(default=None, description="override the reader's tuned threshold")
    verifier_reach: int = Field(default=150, ge=0, le=2000,
                                description="characters either side of a span that the answer verifier reads with it")
    verifier_max_length: int = Field(default=160, ge=32, le=512, description="tokens per verifier input")

    # batching across questions: concurrent questions share the reader's forward passes
    reader_batch_wait_ms: float = Field(default=0.0, ge=0.0, le=1000.0,
                                        description="how long a question waits for others to read with (0: no batching)")
    reader_batch_questions: int = Field(default=8, ge=1, le=256, description="most questions read in one batch")

    # Ray (the optional "ray" extra): distributed ingest and reading replicas
    ray_address: str | None = Field(default=None, description="Ray cluster address; none: a local Ray for the run")
    ray_replicas: int = Field(default=2, ge=1, description="reader replicas of `qa serve --ray`")
    ray_replica_threads: int = Field(default=1, ge=1, description="CPU threads (and Ray CPUs) of each reader replica")
    ray_embed_actors: int = Field(default=0, ge=0, description="embedding actors of `qa ingest --ray` (0: one per CPU of the cluster)")

    # runtime
    threads: int = Field(default=2, ge=1)
    embed_batch_size: int = Field(default=32, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000

    # the edge: admission, deadlines, what a request may be
    max_concurrent_questions: int = Field(default=2, ge=1, description="questions (ask, search) read at once")
    max_queued_questions: int = Field(default=4, ge=0, description="questions waiting for a turn; beyond: 503 at once")
    retry_after_seconds: int = Field(default=1, ge=1, description="the least Retry-After of a shed question's 503")
    retry_after_spread_seconds: int = Field(default=2, ge=0, le=60,
                                            description="a shed question's Retry-After is drawn from retry_after_seconds "
                                                        "to that plus this, so refused clients come back spread out")
    shed_hold_seconds: float = Field(default=0.25, ge=0.0, le=5.0,
                                     description="a shed question's 503 is sent after a pause of about this long (0.5x "
                                                 "to 1.5x): a client that retries at once is paced by a timer, not by "
                                                 "the CPU; 0 sends it at once")
    max_held_refusals: int = Field(default=64, ge=0,
                                   description="shed questions held for that pause at once, at most; more are "
                                               "refused without it (each held one keeps its connection open)")
    request_deadline_seconds: float = Field(default=15.0, gt=0.0,
                                            description="a question not answered by then ends in a 503 (queue time counts)")
    max_json_depth: int = Field(default=32, ge=2, description="deeper JSON bodies are a 400")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                     description="Host header values served (comma-separated); empty: loopback names and QA_HOST")
    header_timeout_seconds: float = Field(default=10.0, gt=0.0,
                                          description="a connection that has not sent its request headers by then is closed")
    keep_alive_seconds: float = Field(default=5.0, gt=0.0, description="idle keep-alive connections are closed after this")
    max_connections: int = Field(default=256, ge=1, description="open connections beyond this get a 503")
    api_docs: bool = Field(default=False, description="serve the interactive API docs (they load scripts from CDNs)")

    def embedding_path(self) -> str:
        return self.embedding_model or packaged_minilm_path()

    @field_validator("bm25_token_pattern")
    @classmethod
    def _a_regular_expression(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [h.strip() for h in value.split(",") if h.strip()] if isinstance(value, str) else value

    def served_hosts(self) -> list[str]:
        """The Host names the service answers to (DNS rebinding: any other name is refused)."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        hosts = ["localhost", "127.0.0.1", "[::1]", "::1"]
        if self.host not in ("0.0.0.0", "::", "") and self.host not in hosts:
            hosts.append(self.host)
        return hosts

    def lexical_params(self) -> dict[str, Any]:
        """BM25's parameters as the index manifest records them."""
        return {"k1": self.bm25_k1, "b": self.bm25_b, "stopwords": self.bm25_stopwords,
                "token_pattern": self.bm25_token_pattern}

