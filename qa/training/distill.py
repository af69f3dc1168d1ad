"""Knowledge distillation: a stronger reader (the teacher) scores every training window of the student.

The teacher may use another tokeniser and another layout of special tokens (MPNet: ``<s> q </s></s> c </s>``,
BERT: ``[CLS] q [SEP] c [SEP]``). So the teacher reads the same question and the same stretch of context as
each student window, and its start/end logits are carried over to the student's tokens through character
offsets: a student token takes the teacher's start logit of the teacher token that starts at the same
character, and the end logit of the one that ends at the same character. Position 0 (the "no answer"
position) maps to position 0. Every other student position (question, separators) gets ``NEG``, that is
probability zero for the teacher.

The targets are computed once, before training, and cached in the run folder (``teacher_logits.pt``) so
that ``--resume`` does not pay for them again.
"""

from __future__ import annotations

import logging
import os
import time
from bisect import bisect_right
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

log = logging.getLogger("qa.training.train")  # its lines belong in the run's train.log

NEG = -10000.0  # logit of positions the teacher cannot point at (fits fp16)


def carry_over(student_offsets: list[tuple[int, int] | None], teacher_offsets: list[tuple[int, int] | None],
               t_start: np.ndarray, t_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Teacher start/end logits at the student's positions.

    ``*_offsets[i]`` is token i's (start, end) characters in the context, or None for tokens that are not
    context (position 0, the "no answer" position, is handled apart). Where the tokenisations differ,
    a student token takes the teacher token that covers its first (start) or last (end) character.
    """
    n = len(student_offsets)
    s_out = np.full(n, NEG, dtype=np.float32)
    e_out = np.full(n, NEG, dtype=np.float32)
    s_out[0], e_out[0] = t_start[0], t_end[0]
    ctx = [(k, o) for k, o in enumerate(teacher_offsets) if o is not None and o[1] > o[0]]
    if not ctx:
        return s_out, e_out
    by_start = {o[0]: k for k, o in ctx}
    by_end = {o[1]: k for k, o in ctx}
    starts = [o[0] for _, o in ctx]
    for i, o in enumerate(student_offsets):
        if i == 0 or o is None or o[1] <= o[0]:
            continue
        ks = by_start.get(o[0])
        ke = by_end.get(o[1])
        if ks is None:
            ks = ctx[max(bisect_right(starts, o[0]) - 1, 0)][0]
        if ke is None:
            ke = ctx[max(bisect_right(starts, o[1] - 1) - 1, 0)][0]
        s_out[i], e_out[i] = t_start[ks], t_end[ke]
    return s_out, e_out


def distill_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, t_start: torch.Tensor, t_end: torch.Tensor,
                 temperature: float, weights: torch.Tensor | None = None) -> torch.Tensor:
    """KL(teacher || student) of the start and of the end distributions at ``temperature``, times T².

    The mean is over windows; with ``weights`` (one per window, 0 or 1), over the windows weighted 1, and
    zero where there are none.
    """
    T = temperature
    kl = 0.0
    for s, t in ((start_logits, t_start), (end_logits, t_end)):
        kl = kl + F.kl_div(F.log_softmax(s.float() / T, dim=-1), F.log_softmax(t.float() / T, dim=-1),
                           reduction="none", log_target=True).sum(-1)
    w = torch.ones_like(kl) if weights is None else weights.to(kl)
    return (kl * w).sum() / w.sum().clamp(min=1.0) / 2 * T * T


def teacher_targets(feats: list[dict], questions: list[str], contexts: list[str], teacher_dir: str, cache: Path,
                    max_length: int, batch_size: int = 32, bf16: bool = True,
                    checkpoint_minutes: float = 10.0,
                    only: set[int] | None = None, device: torch.device | str = "cpu") -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per student window, the teacher's (start, end) logits at the student's positions (fp16 arrays).

    With ``only``, just those windows are scored (the others get None).

    ``feats[i]`` needs ``example`` (an index into ``questions``/``contexts``) and ``offsets`` (the student
    token offsets, None for non-context tokens). Partial results are saved to ``cache`` every
    ``checkpoint_minutes`` and picked up again.
    """
    key = [len(feats), sum(len(f["input_ids"]) for f in feats), teacher_dir]
    done: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if cache.exists():
        state = torch.load(cache, weights_only=False)
        if state["key"] == key:
            done = state["targets"]
        else:
            log.info("teacher cache %s is for other windows: recomputing", cache)
    wanted = range(len(feats)) if only is None else only
    todo = sorted((i for i in wanted if i not in done), key=lambda i: len(feats[i]["input_ids"]))
    if todo:
        _score(feats, todo, done, questions, contexts, teacher_dir, max_length, batch_size, bf16, checkpoint_minutes,
               lambda: atomic_save({"key": key, "targets": done}, cache), torch.device(device))
    return [done.get(i) for i in range(len(feats))]


def atomic_save(obj, path: Path) -> None:
    """torch.save through a temporary file, so an interrupted write never leaves a broken file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _score(feats, todo, done, questions, contexts, teacher_dir, max_length, batch_size, bf16, checkpoint_minutes,
           save, device: torch.device) -> None:
    """Run the teacher over the windows ``todo`` (shortest first, so batches hold little padding)."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(teacher_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(teacher_dir, dtype=torch.float32).eval().to(device)
    log.info("teacher %s scores %d windows (%d cached)", teacher_dir, len(todo), len(done))
    last = time.monotonic()
    bar = tqdm(total=len(todo), desc="teacher", unit="window", dynamic_ncols=True)
    for b in range(0, len(todo), batch_size):
        chunk = [feats[i] for i in todo[b : b + batch_size]]
        spans = []
        for f in chunk:
            ctx_offs = [o for o in f["offsets"] if o is not None]
            spans.append((ctx_offs[0][0], ctx_offs[-1][1]) if ctx_offs else (0, 0))
        enc = tok([questions[f["example"]] for f in chunk],
                  [contexts[f["example"]][a:e] for f, (a, e) in zip(chunk, spans)],
                  truncation="only_second", max_length=max_length + 32, padding=True,
                  return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(**{k: v.to(device) for k, v in enc.items()})
        ts, te = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        for r, (i, f, (a, _)) in enumerate(zip(todo[b : b + batch_size], chunk, spans)):
            seq = enc.sequence_ids(r)
            t_offs = [(o[0] + a, o[1] + a) if s == 1 else None for o, s in zip(offsets[r], seq)]
            s_arr, e_arr = carry_over(f["offsets"], t_offs, ts[r], te[r])
            done[i] = (s_arr.astype(np.float16), e_arr.astype(np.float16))
        bar.update(len(chunk))
        if time.monotonic() - last > checkpoint_minutes * 60:
            save()
            last = time.monotonic()
    bar.close()
    save()
