"""Turning start/end logits of one tokenised window into character spans (no model needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowSpan:
    start_char: int  # into the passage text
    end_char: int
    span_score: float  # start logit + end logit
    null_score: float  # logit sum of the [CLS] "no answer" position


def word_bounds(text: str, offsets: list[tuple[int, int]], context_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which context tokens start a word and which end one in ``text`` (the passage): a span may only start
    where a word starts and end where one ends, so no answer begins or stops inside a word ("ong" of "Cuong")."""
    n = len(text)
    starts = np.zeros(len(offsets), dtype=bool)
    ends = np.zeros(len(offsets), dtype=bool)
    for i in np.flatnonzero(np.asarray(context_mask, dtype=bool)):
        s, e = offsets[i]
        if not 0 <= s < e <= n:
            continue
        starts[i] = s == 0 or not (text[s - 1].isalnum() and text[s].isalnum())
        ends[i] = e == n or not (text[e - 1].isalnum() and text[e].isalnum())
    return starts, ends


def line_numbers(text: str, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Each token's line in ``text``: the number of line breaks before it. An answer never runs across a
    line break, which in an article ends a paragraph, a heading or a photo caption ("MR2\\n\\nThe Standing
    Office ..." is two paragraphs, never one answer)."""
    breaks = np.cumsum([0] + [ch == "\n" for ch in text])  # breaks[k]: line breaks in text[:k]
    return np.array([breaks[min(max(s, 0), len(text))] for s, _ in offsets], dtype=np.int64)


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: list[tuple[int, int]],
    context_mask: np.ndarray,
    max_answer_tokens: int = 30,
    top_n: int = 1,
    word_starts: np.ndarray | None = None,
    word_ends: np.ndarray | None = None,
    lines: np.ndarray | None = None,
) -> list[WindowSpan]:
    """The ``top_n`` best spans with start <= end <= start + max_answer_tokens - 1, context tokens only,
    starting on a token of ``word_starts`` and ending on one of ``word_ends`` where those are given, and
    starting and ending on the same line where ``lines`` (``line_numbers``) are given.

    ``offsets[i]`` is token i's (start, end) characters in the passage; ``context_mask[i]`` is True
    for tokens of the passage (not question, special or padding). Index 0 must be [CLS].
    """
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    null = float(start_logits[0] + end_logits[0])
    ctx = np.flatnonzero(np.asarray(context_mask, dtype=bool))
    if ctx.size == 0:
        return []
    s, e = start_logits[ctx], end_logits[ctx]
    scores = s[:, None] + e[None, :]
    pos = ctx.astype(np.int64)
    length = pos[None, :] - pos[:, None]  # end token - start token
    valid = (length >= 0) & (length < max_answer_tokens)
    if word_starts is not None:
        valid &= np.asarray(word_starts, dtype=bool)[ctx][:, None]
    if word_ends is not None:
        valid &= np.asarray(word_ends, dtype=bool)[ctx][None, :]
    if lines is not None:
        line = np.asarray(lines)[ctx]
        valid &= line[:, None] == line[None, :]
    scores = np.where(valid, scores, -np.inf)
    flat = np.argsort(scores, axis=None)[::-1]
    out: list[WindowSpan] = []
    for f in flat[: max(top_n * 4, top_n)]:
        i, j = divmod(int(f), scores.shape[1])
        if not np.isfinite(scores[i, j]):
            break
        a, b = offsets[ctx[i]][0], offsets[ctx[j]][1]
        if b <= a:
            continue
        out.append(WindowSpan(int(a), int(b), float(scores[i, j]), null))
        if len(out) == top_n:
            break
    return out
