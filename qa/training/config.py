"""The settings of one training run (``TrainConfig``): plain data, cheap to import, so that the ``qa``
command can build ``qa reader train``'s options from it without loading the training code.

Training also runs on a lent GPU machine that has torch and transformers but not the service's
pydantic settings, so the window defaults are written here too; a test keeps them equal to the
service's (``qa/settings.py``), since a reader should be read with the windows it was trained on."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.reader.windows import Windowing


def _opt(default, help: str, **kw):
    """A training setting with its default and the help text its ``qa reader train`` option shows."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    """Every setting of one training run, and the one home of their defaults: ``qa reader train``'s options
    are made from these fields, and ``scripts/distill_pipeline.py`` names only what its recipes change.
    """

    data: list[str] = field(metadata={"help": "SQuAD-format JSON training file (repeat)"})
    out: str = field(metadata={"help": "run folder: checkpoints, log, final model"})
    base_model: str = _opt("", "encoder folder; default: packaged all-MiniLM-L6-v2")
    holdout: list[str] = _opt([], "held-out file(s): their paragraphs are never trained on")
    max_length: int = _opt(256, "tokens per window")
    stride: int = _opt(64, "tokens shared by consecutive windows of a long context")
    max_question_tokens: int = _opt(64, "a longer question is cut to this")
    batch_size: int = _opt(32, "windows per batch")
    grad_accum: int = _opt(1, "batches per optimiser update")
    lr: float = _opt(1e-4, "peak learning rate")
    weight_decay: float = _opt(0.01, "AdamW weight decay (not on biases and layer norms)")
    warmup: float = _opt(0.1, "share of the updates with a linear learning-rate warm-up")
    epochs: float = _opt(1.0, "passes over the windows (a fraction stops part-way)")
    seed: int = _opt(13, "data order, sampling and initialisation of the span head")
    threads: int = _opt(2, "CPU threads")
    synthetic_negatives: float = _opt(0.2, "share of questions also paired with another paragraph of their article, as no-answer")
    keep_negative_windows: float = _opt(0.3, "share of answer-less windows of long contexts kept")
    max_examples_per_source: int = _opt(0, "cap per data file, 0 = all")
    max_answer_words: int = _opt(0, "drop questions whose answer is longer than this, 0 = keep all")
    checkpoint_minutes: float = _opt(10.0, "minutes between checkpoints")
    resume: bool = _opt(False, "continue from OUT/checkpoint.pt")
    log_every: int = _opt(20, "batches between log lines")
    max_minutes: float = _opt(0.0, "stop with a checkpoint after this many minutes (0 = to the end)")
    max_batches_this_run: int = _opt(0, "stop with a checkpoint after this many batches (0 = no limit)")
    teacher: str = _opt("", "trained reader folder whose start/end distributions are distilled into this one")
    distill_alpha: float = _opt(0.7, "weight of the distillation loss (the rest: gold spans)")
    temperature: float = _opt(2.0, "distillation temperature")
    distill_answerable_only: bool = _opt(False, "distil only windows that hold their answer; the others learn "
                                                "'no answer' from the gold alone, whatever the teacher says")
    bf16: bool = _opt(False, "bf16 autocast for the matrix products (weights stay fp32); faster on CPUs with AMX")
    device: str = _opt("auto", "auto (a CUDA GPU where there is one), cpu or cuda")

    @property
    def windowing(self) -> Windowing:
        return Windowing(self.max_length, self.stride, self.max_question_tokens)
