"""The answer verifier: is the reader's span, read in its surroundings, the answer to the question?

The reader weighs each span against "no answer" inside one window, and SQuAD 2.0's adversarial
questions are written so that a plausible wrong span scores well there. The verifier is a second,
small cross-encoder (all-MiniLM-L6-v2 grown from the reader's encoder, one logit) trained on the
reader's own proposals: it reads the question beside the span, marked in the text around it, and
says how likely the answer is right. Its logit is the no-answer policy's last feature
(``no_answer.py``), so the decision no longer rests on the reader's margin and word overlap alone.

Like the reader: ``__init__`` stores settings, ``warm_up()`` loads once, ``run()`` scores spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import TimeUp, UserProblem

if TYPE_CHECKING:
    from qa.settings import Settings

OPEN, CLOSE = "«", "»"  # mark the span inside its surroundings


class VerifierNotFound(UserProblem):
    """A verifier is needed (the stored policy weighs it, or calibration was asked to) and none is where it is configured."""


@dataclass(frozen=True)
class Proposal:
    """A span ``passage[start:end]`` proposed as the answer to a question."""

    question: str
    passage: str
    start: int
    end: int


def marked(passage: str, start: int, end: int, reach: int) -> str:
    """The span with ``reach`` characters either side, the span itself between marks."""
    return f"{passage[max(0, start - reach):start]} {OPEN} {passage[start:end]} {CLOSE} {passage[end:end + reach]}"


class AnswerVerifier:
    def __init__(self, model_dir: str | Path, *, reach: int, max_length: int, batch_size: int, threads: int,
                 dtype: str) -> None:
        self.model_dir = Path(model_dir)
        self.reach = reach
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"verifier dtype {dtype!r}: use auto, float32 or bfloat16")
        self.dtype = dtype
        self.bf16 = False  # resolved in warm_up()
        self._model = None
        self._tokenizer = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> "AnswerVerifier":
        kwargs = dict(model_dir=settings.verifier_dir, reach=settings.verifier_reach,
                      max_length=settings.verifier_max_length, batch_size=settings.reader_batch_size,
                      threads=settings.threads, dtype=settings.reader_dtype)
        kwargs.update(overrides)
        return cls(**kwargs)

    def check_files(self) -> None:
        if not (self.model_dir / "config.json").exists() or not any(self.model_dir.glob("*.safetensors")):
            raise VerifierNotFound(
                f"no answer verifier in {self.model_dir} (config.json and model.safetensors): make one with "
                "`qa reader verifier`, or set QA_VERIFIER_DIR to its folder")

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from qa.reader.extractive import cpu_has_bf16

        self.check_files()
        torch.set_num_threads(self.threads)
        self.bf16 = self.dtype == "bfloat16" or (self.dtype == "auto" and cpu_has_bf16())
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, local_files_only=True, dtype=torch.float32).eval()

    def encode(self, proposals: list[Proposal]):
        self.warm_up()
        return self._tokenizer([p.question for p in proposals],
                               [marked(p.passage, p.start, p.end, self.reach) for p in proposals],
                               truncation="only_second", max_length=self.max_length)

    def run(self, proposals: list[Proposal], deadline: float | None = None) -> list[float]:
        """The logit "this answer is right" of each proposal, in batched passes."""
        import time

        import torch

        if not proposals:
            return []
        enc = self.encode(proposals)
        order = sorted(range(len(proposals)), key=lambda i: len(enc["input_ids"][i]))
        out = [0.0] * len(proposals)
        for b in range(0, len(order), self.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeUp(f"verifying stopped after {b} of {len(order)} answers: the deadline passed")
            rows = order[b : b + self.batch_size]
            batch = self._tokenizer.pad({k: [enc[k][i] for i in rows] for k in enc}, return_tensors="pt")
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                logits = self._model(**batch).logits[:, 0].float().tolist()
            for i, v in zip(rows, logits):
                out[i] = v
        return out
