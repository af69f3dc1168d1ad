"""Held-out questions: splits by article, and the unanswerable questions a service meets.

Every split is made on articles, never on questions, so no article is both tuned on and reported on.
Besides the data's own unanswerable questions there are three made-up kinds: a question paired with
another paragraph of its article (a retrieval mistake), a question whose paragraph was left out of the
index, and a question about another corpus altogether.
"""

from __future__ import annotations

import hashlib
import random

from qa.evaluation.squad import QAExample


def split_by_article(examples: list[QAExample]) -> tuple[list[QAExample], list[QAExample]]:
    """Two halves by article (stable hash), never splitting one article's questions."""
    arts = sorted({e.article for e in examples}, key=lambda a: hashlib.sha1(a.encode()).hexdigest())
    tune_arts = set(arts[: max(1, len(arts) // 2)])
    return [e for e in examples if e.article in tune_arts], [e for e in examples if e.article not in tune_arts]


def add_synthetic_negatives(examples: list[QAExample], share: float, rng: random.Random) -> list[QAExample]:
    """Pair answerable questions with another paragraph of the same article that lacks the answer.

    That is what a retrieval mistake looks like, so the reader learns to say "not here".
    """
    by_article: dict[str, list[str]] = {}
    for ex in examples:
        ctxs = by_article.setdefault(ex.article, [])
        if not ctxs or ctxs[-1] != ex.context:
            if ex.context not in ctxs:
                ctxs.append(ex.context)
    out = []
    for ex in examples:
        if ex.is_impossible or rng.random() >= share:
            continue
        others = [c for c in by_article[ex.article] if c != ex.context]
        if not others:
            continue
        ctx = rng.choice(others)
        if any(a.text.lower() in ctx.lower() for a in ex.answers):
            continue
        out.append(QAExample(ex.id + "_neg", ex.question, ctx, (), ex.article, ex.source + "+neg"))
    return out


UNANSWERABLE_KINDS = {"ooc": "out of corpus", "gone": "paragraph removed"}


def unanswerable_kind(example: QAExample) -> str:
    """Where an unanswerable question comes from: the data set itself (e.g. SQuAD 2.0's written-to-
    mislead questions), a paragraph left out of the index, or another corpus."""
    return UNANSWERABLE_KINDS.get(example.source.rsplit("+", 1)[-1], "in the data")


def sample(examples: list[QAExample], limit: int, seed: int) -> list[QAExample]:
    """A seeded sample of ``limit`` questions, in their order (all when ``limit`` is 0 or larger than the set)."""
    if not limit or limit >= len(examples):
        return examples
    keep = set(random.Random(seed).sample(range(len(examples)), limit))
    return [e for i, e in enumerate(examples) if i in keep]


def out_of_corpus(questions: list[QAExample], n: int, seed: int) -> list[QAExample]:
    """Questions about other articles, asked of this corpus: its articles do not hold the answer."""
    picked = random.Random(seed).sample(questions, min(n, len(questions)))
    return [QAExample(q.id + "_ooc", q.question, "", (), q.article, q.source + "+ooc") for q in picked]


def remove_paragraphs(examples: list[QAExample], share: float, seed: int) -> tuple[list[QAExample], set[str]]:
    """Leave a share of the paragraphs out of the corpus: their questions become unanswerable.

    That is the hardest "not found" a service meets: the corpus holds the article and talks about
    the same people and places, only the sentence with the answer is missing.
    Returns the examples (those of removed paragraphs without answers) and the removed contexts.
    """
    contexts = sorted({e.context for e in examples})
    rng = random.Random(seed)
    gone = {c for c in contexts if rng.random() < share}
    out = [QAExample(e.id + "_gone", e.question, e.context, (), e.article, e.source + "+gone")
           if e.context in gone else e for e in examples]
    return out, gone


HELD_OUT_EVERY = 5  # of squad2_dev_more's 29 articles with unanswerable questions, this holds out six


def held_out_titles(titles_with_unanswerable: list[str], every: int) -> list[str]:
    """Every ``every``-th article (by title) among those with unanswerable questions: a rule fixed in
    advance, so the held-out articles are not picked for how the reader does on them."""
    return sorted(titles_with_unanswerable)[::every]


def split_articles(data: dict, every: int) -> tuple[dict, dict, list[str]]:
    """A SQuAD-format file's articles as (held out, the rest, held-out titles): the held-out articles are
    ``held_out_titles`` of those with unanswerable questions, so the no-answer decision is measured."""
    def unanswerable(article: dict) -> bool:
        return any(q.get("is_impossible") for p in article["paragraphs"] for q in p["qas"])

    titles = held_out_titles([a["title"] for a in data["data"] if unanswerable(a)], every)
    held = [a for a in data["data"] if a["title"] in titles]
    rest = [a for a in data["data"] if a["title"] not in titles]
    return {"version": data.get("version", "v2.0"), "data": held}, {"version": data.get("version", "v2.0"), "data": rest}, titles
