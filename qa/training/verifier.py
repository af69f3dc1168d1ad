"""Training the answer verifier (``qa/answering/verifier.py``) on the reader's own proposals.

The shipped reader reads every training question (SQuAD-format files, plus retrieval-style
unanswerable pairs); its best span becomes one example, labelled right when its F1 against a gold
answer is at least 0.5 and wrong otherwise (always for an unanswerable question). That is exactly
what the no-answer policy is fitted to predict, and it shows the verifier the plausible wrong spans
that SQuAD 2.0's adversarial questions draw from this reader. The network starts from the reader's
encoder, with a fresh one-logit head, and learns with binary cross-entropy.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.answering.verifier import AnswerVerifier, Proposal, marked
from qa.evaluation.heldout import add_synthetic_negatives, sample
from qa.evaluation.reader import predict
from qa.evaluation.squad import load_many, score_one
from qa.reader.extractive import ExtractiveReader, cpu_has_bf16

log = logging.getLogger(__name__)


@dataclass
class VerifierTrainConfig:
    data: list[str]
    out: str
    reader: str  # the reader whose proposals are judged; its encoder is the starting point too
    reach: int  # how the service will read its inputs: Settings.verifier_reach and verifier_max_length
    max_length: int
    synthetic_negatives: float = 0.2
    limit: int = 0  # a seeded sample of this many questions of ``data`` (0 = all)
    epochs: float = 1.0
    lr: float = 5e-5
    warmup: float = 0.06
    weight_decay: float = 0.01
    batch_size: int = 32
    seed: int = 3
    threads: int = 2
    bf16: bool = field(default_factory=cpu_has_bf16)
    log_every: int = 50


@dataclass(frozen=True)
class Judged:
    proposal: Proposal
    right: bool


def propose(reader: ExtractiveReader, data: list[str], synthetic_negatives: float, seed: int = 7,
            limit: int = 0) -> list[Judged]:
    """The reader's best span for every question of ``data`` (a seeded sample of ``limit``, 0 = all), judged
    against the gold answers."""
    examples = sample(load_many(data), limit, seed)
    examples += add_synthetic_negatives(examples, synthetic_negatives, random.Random(seed))
    judged = []
    for e, pred in zip(examples, predict(reader, examples)):
        if pred.start >= 0:
            golds = [a.text for a in e.answers]
            right = bool(golds) and score_one(golds, pred.text)[1] >= 0.5
            judged.append(Judged(Proposal(e.question, e.context, pred.start, pred.end), right))
    return judged


def train_verifier(cfg: VerifierTrainConfig, reader: ExtractiveReader) -> Path:
    """Propose, train, and write an fp16 verifier with its tokenizer to ``cfg.out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rows = propose(reader, cfg.data, cfg.synthetic_negatives, limit=cfg.limit)
    random.Random(cfg.seed).shuffle(rows)
    log.info("%d proposals, %d of them right", len(rows), sum(r.right for r in rows))
    tok = AutoTokenizer.from_pretrained(cfg.reader, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(cfg.reader, num_labels=1, local_files_only=True,
                                                               dtype=torch.float32)
    steps = max(1, int(len(rows) / cfg.batch_size * cfg.epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1.0, cfg.warmup * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / warm) * max(0.0, (steps - s) / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0 = time.time()
    for step in range(steps):
        batch = [rows[(step * cfg.batch_size + i) % len(rows)] for i in range(cfg.batch_size)]
        enc = tok([r.proposal.question for r in batch],
                  [marked(r.proposal.passage, r.proposal.start, r.proposal.end, cfg.reach) for r in batch],
                  truncation="only_second", max_length=cfg.max_length, padding=True, return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(**enc).logits[:, 0]
        loss = loss_fn(logits.float(), torch.tensor([float(r.right) for r in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % cfg.log_every == 0:
            log.info("step %d/%d loss %.4f (%.0f s)", step, steps, loss.item(), time.time() - t0)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out)
    tok.save_pretrained(out)
    (out / "training_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return out


def check(verifier: AnswerVerifier, rows: list[Judged]) -> dict:
    """How well the verifier's logit ranks right answers above wrong ones (ROC AUC) on judged proposals."""
    from sklearn.metrics import roc_auc_score

    logits = verifier.run([r.proposal for r in rows])
    labels = [r.right for r in rows]
    return {"proposals": len(rows), "right": sum(labels), "auc": float(roc_auc_score(labels, logits))}
