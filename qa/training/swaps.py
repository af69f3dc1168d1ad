"""Unanswerable questions made from answerable ones: a name, number or date the question shares with
its paragraph is swapped for one of the same kind that the paragraph never mentions.

    paragraph: "... Military Region 4 was founded in 1945 ..."
    "When was Military Region 4 founded?"  ->  "When was Military Region 7 founded?"   (no answer here)
    "Who coached the Broncos in Super Bowl 50?"  ->  "Who coached the Broncos in Super Bowl 48?"

These are SQuAD 2.0's "entity swap" and "number swap" kinds of adversarial question: the paragraph
is on the right topic and still holds the old answer as a plausible wrong span, so a reader that only
matches the question's type says it anyway. The swapped-in value comes from another paragraph of the
same article where it can (a real neighbour of the same kind, as a retrieval mistake would bring), and
is never anywhere in the paragraph, so the question cannot be answered from it. Names and numbers are
found by ``cloze``'s rules of thumb.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

from qa.corpus.chunking import sentence_spans
from qa.evaluation.squad import QAExample, load_squad
from qa.training.cloze import _MONTH, _ORGANISATION, _candidates

# words that open a question's capitalised run without being part of a name ("Which NFL team ...")
_LEADING = frozenset("what which who whom whose when where why how in on at during for from by of did does do is "
                     "was were are the a an".split())
_NOT_A_NAME = re.compile(rf"{_MONTH}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|.*\b(?:No|St|Op|Mr|Dr)")


def _holds_words(text: str, value: str, flags: int = 0) -> bool:
    """``value`` occurs in ``text`` as whole words ("7" inside "1978" does not count)."""
    return bool(re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, flags))


def _grounded_parts(question: str, context: str, answers: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the names, numbers and dates of ``question`` that occur word for word in
    ``context`` and are not (part of) an answer."""
    parts = []
    for _, s, e, kind in _candidates(question):
        words = list(re.finditer(r"\S+", question[s:e]))
        while words and words[0].group().lower() in _LEADING:
            words.pop(0)
        if not words:
            continue
        s = s + words[0].start()
        text = question[s:e]
        if kind == "name" and (len(text) < 3 or _NOT_A_NAME.fullmatch(text) or re.match(r"\w", question[e:e + 1])):
            continue
        if not _holds_words(context, text):
            continue
        if any(text.lower() in a.lower() or a.lower() in text.lower() for a in answers):
            continue
        parts.append((s, e, kind))
    return parts


def _shape(text: str, kind: str) -> tuple:
    """What a swapped-in value must share with the one it replaces: its kind, and for a name its number of
    words and whether it names an organisation or place ("Military Region", "River") rather than a person."""
    if kind != "name":
        return (kind,)
    return (kind, len(text.split()), bool(_ORGANISATION.search(text)))


def _pool(contexts: list[str]) -> dict[tuple, list[str]]:
    """The names, numbers and dates of an article's paragraphs, by shape, each once; a name cut inside a
    word by the rule of thumb ("Cond" of "Condé") is left out, and so are months and days."""
    found: dict[tuple, dict[str, None]] = defaultdict(dict)
    for context in contexts:
        for s, e in sentence_spans(context):
            sentence = context[s:e]
            for _, cs, ce, kind in _candidates(sentence):
                text = sentence[cs:ce]
                if re.match(r"\w", sentence[ce:ce + 1]) or (kind == "name" and _NOT_A_NAME.fullmatch(text)):
                    continue
                found[_shape(text, kind)][text] = None
    return {shape: list(values) for shape, values in found.items()}


def _absent(value: str, context: str, question: str) -> bool:
    """``value`` is nowhere in the paragraph or the question as whole words, in any case."""
    return not _holds_words(context, value, re.IGNORECASE) and not _holds_words(question, value, re.IGNORECASE)


def _changed_number(text: str, context: str, question: str, rng: random.Random) -> str | None:
    """``text`` with its last number moved to one the paragraph does not hold ("Region 4" -> "Region 7",
    "1945" -> "1948"), or None."""
    m = list(re.finditer(r"\d+", text))
    if not m:
        return None
    last = m[-1]
    n = int(last.group())
    for _ in range(20):
        step = rng.randint(1, 9) if n < 100 or 1000 <= n <= 2100 else rng.randint(1, n // 10)
        new = n + step if rng.random() < 0.5 or n - step < 1 else n - step
        value = text[: last.start()] + str(new) + text[last.end():]
        if _absent(value, context, question):
            return value
    return None


def swapped_question(ex: QAExample, pool: dict[tuple, list[str]], rng: random.Random) -> tuple[str, str] | None:
    """(new question, the replaced text) for one answerable example, or None where nothing can be swapped."""
    answers = tuple(a.text for a in ex.answers)
    parts = _grounded_parts(ex.question, ex.context, answers)
    rng.shuffle(parts)
    for s, e, kind in parts:
        old = ex.question[s:e]
        choices = [v for v in pool.get(_shape(old, kind), ()) if v != old and _absent(v, ex.context, ex.question)]
        new = rng.choice(choices) if choices else None
        if new is None or (kind != "name" and rng.random() < 0.5) or re.search(r"\d$", old):
            new = _changed_number(old, ex.context, ex.question, rng) or new
        if new:
            return ex.question[:s] + new + ex.question[e:], old
    return None


def make_swaps(paths: list[str | Path], share: float = 0.5, seed: int = 7) -> dict:
    """A SQuAD-format dict of unanswerable questions, one swap from each of about ``share`` of the files'
    answerable questions that have something to swap. Each keeps its source question's answers as
    ``plausible_answers`` (SQuAD 2.0's field), which no loader reads as an answer."""
    rng = random.Random(seed)
    by_article: dict[str, list[QAExample]] = defaultdict(list)
    for path in paths:
        for ex in load_squad(path):
            by_article[ex.article].append(ex)
    data = []
    n = 0
    for article, examples in by_article.items():
        pool = _pool(list(dict.fromkeys(ex.context for ex in examples)))
        paragraphs: dict[str, list[dict]] = defaultdict(list)
        for ex in examples:
            if ex.is_impossible or rng.random() >= share:
                continue
            made = swapped_question(ex, pool, rng)
            if made is None:
                continue
            question, replaced = made
            paragraphs[ex.context].append({
                "id": f"swap-{n}", "question": question, "is_impossible": True, "answers": [],
                "plausible_answers": [{"text": a.text, "answer_start": a.start} for a in ex.answers],
                "source_question": ex.question, "replaced": replaced})
            n += 1
        if paragraphs:
            data.append({"title": article, "paragraphs": [{"context": c, "qas": q} for c, q in paragraphs.items()]})
    return {"version": "swaps", "data": data}
