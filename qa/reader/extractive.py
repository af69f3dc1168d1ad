"""The extractive reader: a transformers span-head model over question/passage pairs.

Like a Haystack component: ``__init__`` only stores settings, ``warm_up()`` loads the model once,
``read()`` takes a question and passages and returns typed spans with character offsets.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import TimeUp, UserProblem
from qa.reader import config
from qa.reader.decoding import best_spans, line_numbers, word_bounds
from qa.reader.windows import Windowing
from qa.timing import stage

if TYPE_CHECKING:  # training and evaluation also run where pydantic is not installed (a lent GPU machine)
    from qa.settings import Settings

log = logging.getLogger(__name__)


class ReaderNotFound(UserProblem):
    """No usable reader where one is configured (missing weights, a config this code cannot use)."""


@dataclass(frozen=True)
class SpanAnswer:
    passage_index: int  # which of the given passages
    start: int  # character offsets into that passage
    end: int
    text: str
    margin: float  # span score minus the passage's no-answer score (logits)
    span_score: float
    null_score: float


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 matrix kernels (AMX or AVX512-BF16) for oneDNN."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class ExtractiveReader:
    def __init__(self, model_dir: str | Path, *, windowing: Windowing, max_answer_tokens: int, batch_size: int,
                 threads: int, int8: bool, dtype: str, device: str, runtime: str,
                 no_answer_threshold: float | None = None, cache_dir: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.windowing = windowing
        self.max_answer_tokens = max_answer_tokens
        self.batch_size = batch_size
        self.threads = threads
        self.threshold_override = no_answer_threshold
        self.int8 = int8  # dynamic int8 quantisation of the linear layers: faster on CPU, less accurate
        # "bfloat16": matrix products in bf16 (autocast), about twice as fast on CPUs with AMX/AVX512-BF16
        # and as accurate; "auto" picks it where the CPU has such kernels, else "float32".
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"reader dtype {dtype!r}: use auto, float32 or bfloat16")
        self.dtype = dtype
        if device not in ("cpu", "cuda"):
            raise ValueError(f"reader device {device!r}: use cpu or cuda")
        if int8 and device != "cpu":
            raise ValueError("the int8 reader runs on the CPU only")
        self.device = device  # the service reads on the CPU; "cuda" serves held-out evaluation on a GPU
        # "onnx": the same network under ONNX Runtime's fused CPU kernels, fp32 (faster where there is no
        # bf16, same logits to 1e-5) or int8; "torch": PyTorch; "auto": onnx on a CPU unless bf16 is used.
        if runtime not in ("auto", "torch", "onnx"):
            raise ValueError(f"reader runtime {runtime!r}: use auto, torch or onnx")
        if runtime == "onnx" and (device != "cpu" or dtype == "bfloat16"):
            raise ValueError("the onnx reader runtime is fp32 or int8 on the CPU: not with cuda or bfloat16")
        self.runtime = runtime
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None  # where the exported graph is kept
        self.bf16 = False  # resolved in warm_up()
        self.runtime_used = ""  # resolved in warm_up(): "torch" or "onnx"
        self.config: dict = {}
        self._model = None
        self._tokenizer = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> "ExtractiveReader":
        """A reader configured by the one settings object (``overrides`` win)."""
        kwargs = dict(model_dir=settings.reader_dir, windowing=Windowing.from_settings(settings),
                      max_answer_tokens=settings.max_answer_tokens, batch_size=settings.reader_batch_size,
                      threads=settings.threads, no_answer_threshold=settings.no_answer_threshold,
                      int8=settings.reader_int8, dtype=settings.reader_dtype, device=settings.reader_device,
                      runtime=settings.reader_runtime, cache_dir=settings.cache_dir)
        kwargs.update(overrides)
        return cls(**kwargs)

    @staticmethod
    def check_files(model_dir: Path) -> None:
        missing = [n for n in ("config.json", "tokenizer.json") if not (model_dir / n).exists()]
        has_weights = any(model_dir.glob("*.safetensors")) or (model_dir / "pytorch_model.bin").exists()
        if missing or not has_weights:
            raise ReaderNotFound(
                f"no reader weights in {model_dir}: it needs config.json, tokenizer files and model.safetensors "
                "(train one with `qa reader train` and `qa reader export`, or set QA_READER_DIR)"
            )

    def warm_up(self) -> None:
        if self._tokenizer is not None:
            return
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        from qa.reader.onnx_runtime import OnnxSpanModel, onnx_supported

        self.check_files(self.model_dir)
        torch.set_num_threads(self.threads)
        self.config = config.read(self.model_dir)
        auto_bf16 = cpu_has_bf16() if self.device == "cpu" else torch.cuda.is_bf16_supported()
        self.bf16 = (not self.int8 and self.runtime != "onnx"
                     and (self.dtype == "bfloat16" or (self.dtype == "auto" and auto_bf16)))
        use_onnx = self.runtime == "onnx" or (
            self.runtime == "auto" and self.device == "cpu" and not self.bf16 and onnx_supported(self.model_dir))
        if use_onnx:
            try:
                self._model = OnnxSpanModel(self.model_dir, self.threads, self.cache_dir, int8=self.int8)
            except Exception as exc:  # "auto" is a speed choice: any failure to build the graph falls back
                if self.runtime == "onnx":
                    raise
                log.warning("ONNX Runtime reader unavailable (%s: %s); reading with PyTorch", type(exc).__name__, exc)
                use_onnx = False
        if not use_onnx:
            model = AutoModelForQuestionAnswering.from_pretrained(
                self.model_dir, local_files_only=True, dtype=torch.float32
            ).eval().to(self.device)
            if self.int8:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            self._model = model
        self.runtime_used = "onnx" if use_onnx else "torch"
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)

    @property
    def no_answer_threshold(self) -> float:
        return config.no_answer_threshold(self.config, self.threshold_override)

    def encode(self, questions: list[str], passages: list[str]):
        """The reader's windows over (question, passage) pairs: what it will run the model on."""
        self.warm_up()
        return self.windowing.encode(self._tokenizer, questions, passages)

    def _span_logits(self, batch: dict[str, list]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits (float32 arrays, batch x tokens) for a batch of unpadded windows."""
        if self.runtime_used == "onnx":
            with stage("pad"):
                padded = self._tokenizer.pad(batch, return_tensors="np")
            with stage("forward", padded["input_ids"].size):
                return self._model(padded)
        import torch

        with stage("pad"):
            padded = self._tokenizer.pad(batch, return_tensors="pt").to(self.device)
        with (stage("forward", padded["input_ids"].numel()), torch.inference_mode(),
              torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16)):
            out = self._model(**padded)
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()

    def read(self, question: str, passages: list[str], top_n: int = 1, deadline: float | None = None) -> list[list[SpanAnswer]]:
        """Best spans for each passage (``top_n`` each, best first), all passages in batched passes.
        Past ``deadline`` (``time.monotonic()``) it stops between batches with ``TimeUp``."""
        return self.read_pairs([question] * len(passages), passages, top_n, deadline)

    def read_many(self, asks: list[tuple[str, list[str]]], top_n: int = 1,
                  deadline: float | None = None) -> list[list[list[SpanAnswer]]]:
        """``read`` for several questions at once, each with its passages, in shared forward passes:
        what batching across concurrent requests runs. One result per question, as ``read`` gives it."""
        flat = self.read_pairs([q for q, ps in asks for _ in ps], [p for _, ps in asks for p in ps], top_n, deadline)
        out, first = [], 0
        for _, ps in asks:
            out.append([[replace(s, passage_index=s.passage_index - first) for s in spans]
                        for spans in flat[first : first + len(ps)]])
            first += len(ps)
        return out

    def read_pairs(self, questions: list[str], passages: list[str], top_n: int = 1,
                   deadline: float | None = None) -> list[list[SpanAnswer]]:
        """Like ``read`` for independent (question, passage) pairs, e.g. a whole evaluation set."""
        self.warm_up()
        if not passages:
            return []
        with stage("tokenise"):
            enc = self.encode(questions, passages)
        sample_map = enc["overflow_to_sample_mapping"]
        offsets = enc["offset_mapping"]
        order = sorted(range(len(sample_map)), key=lambda w: len(enc["input_ids"][w]))  # little padding per batch
        start_logits: list = [None] * len(sample_map)
        end_logits: list = [None] * len(sample_map)
        for b in range(0, len(order), self.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeUp(f"reading stopped after {b} of {len(order)} windows: the deadline passed")
            rows = order[b : b + self.batch_size]
            batch = {k: [enc[k][w] for w in rows] for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc}
            starts, ends = self._span_logits(batch)
            for r, w in enumerate(rows):
                n = len(enc["input_ids"][w])
                start_logits[w] = starts[r, :n]
                end_logits[w] = ends[r, :n]

        with stage("decode"):
            # A passage's no-answer score is its lowest over windows; its spans are judged against that.
            window_spans: list[list] = [[] for _ in passages]
            null_min: list[float] = [math.inf] * len(passages)
            for w, p in enumerate(sample_map):
                mask = np.array([s == 1 for s in enc.sequence_ids(w)])
                starts, ends = word_bounds(passages[p], offsets[w], mask)
                window_spans[p] += best_spans(start_logits[w], end_logits[w], offsets[w], mask, self.max_answer_tokens, top_n,
                                              starts, ends, line_numbers(passages[p], offsets[w]))
                null_min[p] = min(null_min[p], float(start_logits[w][0] + end_logits[w][0]))
            result = []
            for p, spans in enumerate(window_spans):
                best: dict[tuple[int, int], float] = {}  # windows overlap: the same span may come from two
                for s in spans:
                    key = (s.start_char, s.end_char)
                    best[key] = max(best.get(key, -math.inf), s.span_score)
                ranked = sorted(best.items(), key=lambda kv: -kv[1])[:top_n]
                result.append([SpanAnswer(p, a, e, passages[p][a:e], score - null_min[p], score, null_min[p])
                               for (a, e), score in ranked])
            return result
