"""Fine-tune an encoder into an extractive reader (start/end span head) on SQuAD-format data.

CPU-friendly: dynamic padding, length-grouped batches, gradient accumulation, a fixed thread count.
Deterministic: the data order of every epoch follows from ``seed`` alone, so ``--resume`` continues
exactly where the last checkpoint stopped. A checkpoint is written every ``checkpoint_minutes``.

Run:  qa reader train --data a.json --data b.json --out runs/reader
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from qa.evaluation.heldout import add_synthetic_negatives
from qa.evaluation.squad import QAExample, load_many
from qa.packaged import packaged_minilm_path
from qa.reader.extractive import cpu_has_bf16
from qa.training.config import TrainConfig
from qa.training.distill import NEG, atomic_save, distill_loss, teacher_targets

log = logging.getLogger("qa.training.train")


def resolve_device(name: str) -> "torch.device":
    """``auto`` is a CUDA GPU where there is one, else the CPU; ``cpu``/``cuda`` are taken as they are."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


# ---------------------------------------------------------------- data preparation
def drop_long_answers(examples: list[QAExample], max_words: int) -> list[QAExample]:
    """Questions whose trained answer (the first) has at most ``max_words`` words; unanswerable ones stay.

    The service answers with short spans (names, dates, numbers); a clause-long gold answer
    (privacy-policy passages, fairy-tale "why" questions) teaches the reader to run on.
    """
    return [e for e in examples if not e.answers or len(e.answers[0].text.split()) <= max_words]


def build_features(examples: list[QAExample], tokenizer, cfg: TrainConfig, rng: random.Random,
                   keep_offsets: bool = False) -> list[dict]:
    """Tokenise question/context pairs into overlapping windows with start/end token labels.

    Windows that do not contain the answer are labelled with the [CLS] position (no answer) and
    kept with probability ``keep_negative_windows`` (all of them for unanswerable questions' first window).
    With ``keep_offsets`` each window also carries ``example`` (its index in ``examples``) and ``offsets``
    (each token's characters in the context, None for other tokens), which distillation needs.
    """
    feats: list[dict] = []
    bs = 256
    for i in range(0, len(examples), bs):
        chunk = examples[i : i + bs]
        enc = cfg.windowing.encode(tokenizer, [e.question for e in chunk], [e.context for e in chunk])
        seen_first: set[int] = set()
        for j, sample in enumerate(enc["overflow_to_sample_mapping"]):
            ex = chunk[sample]
            ids = enc["input_ids"][j]
            offsets = enc["offset_mapping"][j]
            seq = enc.sequence_ids(j)
            ctx_tokens = [k for k, s in enumerate(seq) if s == 1]
            start_tok = end_tok = 0
            if ex.answers:
                a = ex.answers[0]
                a_s, a_e = a.start, a.start + len(a.text)
                if offsets[ctx_tokens[0]][0] <= a_s and offsets[ctx_tokens[-1]][1] >= a_e:
                    start_tok = next(k for k in ctx_tokens if offsets[k][1] > a_s)
                    end_tok = next(k for k in reversed(ctx_tokens) if offsets[k][0] < a_e)
            first = sample not in seen_first
            seen_first.add(sample)
            if start_tok == 0:
                keep = (ex.is_impossible and first) or rng.random() < cfg.keep_negative_windows
                if not keep:
                    continue
            feat = {
                "input_ids": ids,
                "token_type_ids": enc["token_type_ids"][j] if "token_type_ids" in enc else None,
                "start": start_tok,
                "end": end_tok,
            }
            if keep_offsets:
                feat["example"] = i + sample
                feat["offsets"] = [tuple(o) if s == 1 else None for o, s in zip(offsets, seq)]
            feats.append(feat)
    return feats


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Length-grouped batches: shuffle, sort within mega-batches by length, shuffle the batches."""
    rng = random.Random(seed * 1000 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    mega = batch_size * 50
    batches = []
    for m in range(0, len(idx), mega):
        group = sorted(idx[m : m + mega], key=lambda k: lengths[k], reverse=True)
        batches.extend(group[b : b + batch_size] for b in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return batches


def collate(feats: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest window. No ``token_type_ids`` for tokenisers without them (MPNet)."""
    n = max(len(f["input_ids"]) for f in feats)
    ids = torch.full((len(feats), n), pad_id, dtype=torch.long)
    tt = torch.zeros((len(feats), n), dtype=torch.long)
    mask = torch.zeros((len(feats), n), dtype=torch.long)
    for r, f in enumerate(feats):
        L = len(f["input_ids"])
        ids[r, :L] = torch.tensor(f["input_ids"])
        if f["token_type_ids"] is not None:
            tt[r, :L] = torch.tensor(f["token_type_ids"])
        mask[r, :L] = 1
    batch = {
        "input_ids": ids,
        "token_type_ids": tt,
        "attention_mask": mask,
        "start_positions": torch.tensor([f["start"] for f in feats]),
        "end_positions": torch.tensor([f["end"] for f in feats]),
    }
    if feats[0]["token_type_ids"] is None:
        del batch["token_type_ids"]
    return batch


def prepare(cfg: TrainConfig, tokenizer) -> tuple[list[dict], list[QAExample]]:
    """The training windows, and the questions they come from (windows point into them with ``example``)."""
    rng = random.Random(cfg.seed)
    examples = load_many(cfg.data)
    if cfg.holdout:
        held = {e.context for e in load_many(cfg.holdout)}
        before = len(examples)
        examples = [e for e in examples if e.context not in held]
        log.info("dropped %d training questions whose paragraph is in the held-out set", before - len(examples))
    if cfg.max_answer_words:
        before = len(examples)
        examples = drop_long_answers(examples, cfg.max_answer_words)
        log.info("dropped %d questions whose answer is over %d words", before - len(examples), cfg.max_answer_words)
    if cfg.max_examples_per_source:
        by_src: dict[str, list[QAExample]] = {}
        for e in examples:
            by_src.setdefault(e.source, []).append(e)
        examples = []
        for src, exs in sorted(by_src.items()):
            rng.shuffle(exs)
            examples.extend(exs[: cfg.max_examples_per_source])
    negs = add_synthetic_negatives(examples, cfg.synthetic_negatives, rng)
    log.info("%d questions (%d unanswerable) + %d synthetic negatives", len(examples),
             sum(e.is_impossible for e in examples), len(negs))
    examples = examples + negs
    feats = build_features(examples, tokenizer, cfg, rng, keep_offsets=bool(cfg.teacher))
    n_pos = sum(f["start"] > 0 for f in feats)
    log.info("%d windows: %d with the answer, %d without", len(feats), n_pos, len(feats) - n_pos)
    return feats, examples


# ---------------------------------------------------------------- training loop
def _padded_targets(rows: list[tuple], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    t_start = torch.full((len(rows), n), NEG)
    t_end = torch.full((len(rows), n), NEG)
    for r, (s, e) in enumerate(rows):
        t_start[r, : len(s)] = torch.from_numpy(s.astype("float32"))
        t_end[r, : len(e)] = torch.from_numpy(e.astype("float32"))
    return t_start, t_end


def train(cfg: TrainConfig) -> Path:
    """Train (or resume) one run; its log goes to ``OUT/train.log`` and to this run's file only."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return _train(cfg, out)
    finally:  # several runs in one process (scripts/distill_pipeline.py) each keep their own log
        log.removeHandler(handler)
        handler.close()


def _train(cfg: TrainConfig, out: Path) -> Path:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)

    base = cfg.base_model or packaged_minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    # fp32 always: a shipped reader is stored in fp16 and would otherwise be trained in half precision
    model = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32).to(device)
    log.info("config %s (device %s)", json.dumps(asdict(cfg)), device)
    feats, examples = prepare(cfg, tokenizer)
    lengths = [len(f["input_ids"]) for f in feats]
    steps_per_epoch = math.ceil(len(feats) / cfg.batch_size)
    total_batches = int(steps_per_epoch * cfg.epochs)
    total_updates = math.ceil(total_batches / cfg.grad_accum)
    targets = None
    if cfg.teacher:
        # only the windows this run will see (a fraction of an epoch sees a fraction of them)
        needed: set[int] = set()
        for ep in range(math.ceil(cfg.epochs)):
            for b in epoch_batches(lengths, cfg.batch_size, cfg.seed, ep)[: total_batches - ep * steps_per_epoch]:
                needed.update(b)
        targets = teacher_targets(feats, [e.question for e in examples], [e.context for e in examples], cfg.teacher,
                                  out / "teacher_logits.pt", cfg.max_length, cfg.batch_size,
                                  bf16=device.type == "cuda" or cpu_has_bf16(),  # bf16 where it is fast
                                  checkpoint_minutes=cfg.checkpoint_minutes, only=needed, device=device)
        for f in feats:
            del f["offsets"]

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup * total_updates), total_updates)

    done = 0  # batches consumed
    ckpt = out / "checkpoint.pt"
    if cfg.resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        done = state["batches_done"]
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed from %s at batch %d/%d", ckpt, done, total_batches)

    def save_checkpoint():
        atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                      "batches_done": done, "torch_rng": torch.get_rng_state(), "config": asdict(cfg)}, ckpt)
        log.info("checkpoint at batch %d", done)

    model.train()
    started = last_ckpt = time.monotonic()
    stop_at = done + cfg.max_batches_this_run if cfg.max_batches_this_run else total_batches
    bar = tqdm(total=total_batches, initial=done, desc="train", unit="batch", dynamic_ncols=True)
    running = 0.0
    while done < min(total_batches, stop_at):
        epoch, pos = divmod(done, steps_per_epoch)
        batches = epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch)
        for b in batches[pos:]:
            if done >= min(total_batches, stop_at) or (cfg.max_minutes and time.monotonic() - started > cfg.max_minutes * 60):
                stop_at = done
                break
            batch = {k: v.to(device) for k, v in collate([feats[k] for k in b], tokenizer.pad_token_id).items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                res = model(**batch)
            loss = res.loss
            if targets is not None:
                t_start, t_end = _padded_targets([targets[k] for k in b], batch["input_ids"].shape[1])
                answerable = (batch["start_positions"] != 0).float() if cfg.distill_answerable_only else None
                kd = distill_loss(res.start_logits, res.end_logits, t_start.to(device), t_end.to(device), cfg.temperature,
                                  answerable)
                loss = cfg.distill_alpha * kd + (1 - cfg.distill_alpha) * loss
            loss = loss / cfg.grad_accum
            loss.backward()
            running = 0.98 * running + 0.02 * loss.item() * cfg.grad_accum if done else loss.item()
            done += 1
            if done % cfg.grad_accum == 0 or done == total_batches:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}", epoch=epoch)
            if done % cfg.log_every == 0:
                log.info("batch %d/%d loss %.4f lr %.2e elapsed %s", done, total_batches, running,
                         sched.get_last_lr()[0], bar.format_dict["elapsed"])
            if time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
                save_checkpoint()
                model.save_pretrained(out / "latest")
                tokenizer.save_pretrained(out / "latest")
                last_ckpt = time.monotonic()
    bar.close()
    save_checkpoint()
    if done < total_batches:
        log.info("stopped at batch %d/%d: continue with --resume", done, total_batches)
        return ckpt
    final = out / "final"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    (final / "training_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    log.info("finished: %s", final)
    return final

