"""Template questions over the names, numbers and dates of unlabeled paragraphs: more inputs for distillation.

Each question is one sentence of a paragraph with one name, number or date replaced by a question phrase:

    "Kurt Coleman recorded an interception in the fourth quarter."  ->  "Who recorded an interception in the fourth quarter?"
    "The stadium holds 68,500 fans."                                 ->  "The stadium holds how many fans?"

The paragraph stays whole, so the answer is the replaced words at their real character offsets. On their
own such questions are easy: the rest of the sentence stands in the paragraph word for word. Their use is
as more (question, paragraph) pairs on which a student copies its teacher's start/end distributions
(``scripts/distill_pipeline.py``, the ``cloze`` recipes): the 6-layer student's misses on Super Bowl 50 are
mostly the wrong name of the right kind, and these questions ask for exactly that choice.

Finding the names is a rule of thumb (runs of capitalised words, numbers, years, month-day dates), not a
tagger: no model may be downloaded here, and a wrong guess only costs one odd question.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from qa.corpus.chunking import sentence_spans

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_WORD = r"(?:[A-Z][\w'’.-]*[A-Za-z]|[A-Z]\.?(?![\w'’]))"  # a capitalised word, or an initial
# most specific first: a date holds a year and a number, a year is a number
_NUMERIC: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:,\s+\d{{4}})?\b|\b\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?\b")),
    ("year", re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b(?!\s*(?:%|percent|people|million|billion))")),
    ("percent", re.compile(r"\b\d+(?:\.\d+)?\s*(?:%|percent\b)")),
    ("number", re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\w,])|(?<![\w.,])\d+(?:\.\d+)?(?![\w.,%])")),
)
# a run of capitalised words and initials ("John C. Reilly", "Jay Z"), joined by "of"/"the"/"and"/"de" inside it,
# with a number that ends it ("Super Bowl 50", "Military Region 2")
_NAME = re.compile(rf"\b{_WORD}(?:\s+(?:(?:of|the|and|de|von|van|du|la)\s+)*{_WORD})*(?:\s+\d+\b(?![.,]\d))?")
# one capitalised word that names a people or a language ("American", "Greek", "Japanese", "Arab", "Israeli");
# before a lowercase word it is an adjective ("an American actress"), not an answer
_PEOPLE = re.compile(r"[A-Z][a-z]+(?:an|ese|ish|ic|i)|Greek|Arab|Thai|Dutch|French|Swiss|Welsh|Czech")
# names that start a sentence and are only a capitalised common word ("The", "However") are not names
_NOT_NAMES = frozenset(
    "a an the this that these those it its he she they we i you his her their our however in on at for of by with "
    "after before during when while although though as if but and or so since because there here then also many "
    "some most all each every one two three first second last later early".split()
)
_ORGANISATION = re.compile(
    r"\b(?:University|College|School|Company|Corporation|Inc|Party|Council|Church|Museum|Hospital|Association|"
    r"Society|Institute|Agency|Department|Ministry|Office|Army|Navy|Team|Club|League|Bank|Group|Foundation|"
    r"Committee|Commission|Court|Parliament|Congress|Senate|Government|Republic|Kingdom|Empire|River|Mountains?|"
    r"Island|Ocean|Sea|Lake|City|State|County|Province|Bowl|Cup|Stadium|Award|Prize|War|Act|Treaty)\b"
)
_ASK = {"date": "what date", "year": "what year", "percent": "what percentage", "number": "how many"}  # names: who/what


@dataclass(frozen=True)
class ClozeQuestion:
    question: str
    answer: str
    start: int  # character offset of the answer in the paragraph
    kind: str  # date, year, percent, number or name


def _name_span(sentence: str, s: int, e: int) -> tuple[int, int] | None:
    """A capitalised run without its leading common words ("The Panthers" -> "Panthers"), or None where it is
    not a name: nothing left, a single word opening the sentence, over six words, a lone initial, a month and
    a number ("May 2016": a date), a single word naming a people before a noun ("American actress"), or a
    possessive ("Galileo's")."""
    for m in re.finditer(r"\S+", sentence[s:e]):
        if m.group().lower() not in _NOT_NAMES:
            s += m.start()
            break
    else:
        return None
    words = sentence[s:e].split()
    if (s == 0 and len(words) == 1) or len(words) > 6 or (len(words) == 1 and re.fullmatch(r"[A-Z]\.?", words[0])):
        return None
    if words[-1].isdigit() and (len(words) == 1 or re.fullmatch(_MONTH, words[-2])):
        return None
    if len(words) == 1 and _PEOPLE.fullmatch(words[0]) and re.match(r"\s+[a-z]", sentence[e:]):
        return None
    if re.search(r"['’]s?$", words[-1]):  # "Galileo's insight": the answer would carry the possessive
        return None
    return s, e


def _candidates(sentence: str) -> list[tuple[int, int, int, str]]:
    """(replace from, answer start, end, kind) of the names, numbers and dates in one sentence, none overlapping.
    A name's leading article is replaced with it but is not part of the answer: "lost to the Panthers" ->
    "lost to what", answer "Panthers". A name that ends in a number is taken before the numbers, so that
    "Super Bowl 50" is one answer and not "Super Bowl" and "50"."""
    taken: list[tuple[int, int, int, str]] = []

    def take(span: tuple[int, int], kind: str) -> None:
        if any(span[0] < te and ts < span[1] for _, ts, te, _ in taken):
            return
        replace_from = span[0]
        article = re.search(r"\b(?:the|a|an)\s+$", sentence[: span[0]], re.IGNORECASE)
        if kind == "name" and article:
            replace_from = article.start()
        taken.append((replace_from, *span, kind))

    names = [span for m in _NAME.finditer(sentence) if (span := _name_span(sentence, *m.span()))]
    for span in names:
        if sentence[span[0]:span[1]].split()[-1].isdigit():
            take(span, "name")
    for kind, pattern in _NUMERIC:
        for m in pattern.finditer(sentence):
            take(m.span(), kind)
    for span in names:
        take(span, "name")
    return sorted(taken)


def _question(sentence: str, replace_from: int, start: int, end: int, kind: str) -> str | None:
    """The sentence with [replace_from:end] replaced by a question phrase and a question mark (the answer is
    [start:end]); None where the phrase would not read ("how many" needs a counted word after it)."""
    answer = sentence[start:end]
    before, after = sentence[:replace_from].rstrip(), sentence[end:].lstrip()
    if kind == "name":  # a person's name most often opens a sentence as its subject: "Kurt Coleman recorded ..."
        person = (not before and 2 <= len(answer.split()) <= 3 and not _ORGANISATION.search(answer)
                  and not re.search(r"\d", answer))
        ask = "who" if person else "what"
    else:
        ask = _ASK[kind]
    if kind == "number" and not re.match(r"[A-Za-z]", after):
        return None
    if not before:  # the answer opens the sentence: "Who recorded ...", "How many ..."
        ask = ask[0].upper() + ask[1:]
    text = re.sub(r"\s+", " ", f"{before} {ask} {after}").strip()
    text = re.sub(r"\s+([,;:])", r"\1", text)
    return re.sub(r"[\s.!?;:,]*$", "", text) + "?"


def cloze_questions(context: str, rng: random.Random, per_paragraph: int,
                    min_words: int = 6, max_words: int = 40) -> list[ClozeQuestion]:
    """Up to ``per_paragraph`` questions over one paragraph, each from another sentence where it can."""
    pool: list[list[ClozeQuestion]] = []
    for s, e in sentence_spans(context):
        sentence = context[s:e]
        if not min_words <= len(sentence.split()) <= max_words:
            continue
        found = []
        for rs, cs, ce, kind in _candidates(sentence):
            answer = sentence[cs:ce]
            question = _question(sentence, rs, cs, ce, kind)
            if question is None or answer.lower() in question.lower() or len(question.split()) < 4:
                continue
            found.append(ClozeQuestion(question, answer, s + cs, kind))
        if found:
            pool.append(found)
    rng.shuffle(pool)
    picked = [rng.choice(found) for found in pool[:per_paragraph]]
    return sorted(picked, key=lambda q: q.start)


def make_cloze(paths: list[str | Path], per_paragraph: int = 3, seed: int = 7) -> dict:
    """A SQuAD-format dict of template questions over every distinct paragraph of ``paths``.
    The files' own questions are not read: only their paragraphs."""
    rng = random.Random(seed)
    seen: set[str] = set()
    data: list[dict] = []
    n = 0
    for path in paths:
        path = Path(path)
        for art in json.loads(path.read_text(encoding="utf-8"))["data"]:
            paragraphs = []
            for para in art["paragraphs"]:
                context = para["context"]
                if context in seen:
                    continue
                seen.add(context)
                qas = []
                for q in cloze_questions(context, rng, per_paragraph):
                    assert context[q.start:q.start + len(q.answer)] == q.answer
                    qas.append({"id": f"cloze-{n}", "question": q.question, "is_impossible": False,
                                "answers": [{"text": q.answer, "answer_start": q.start}], "kind": q.kind})
                    n += 1
                if qas:
                    paragraphs.append({"context": context, "qas": qas})
            if paragraphs:
                data.append({"title": f"{path.stem}::{art.get('title', '')}", "paragraphs": paragraphs})
    return {"version": "cloze", "data": data}
