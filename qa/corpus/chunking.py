"""Sentence-aware chunking with overlap; every passage keeps its offsets into the document text."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.corpus.documents import Document

# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace, or at a line break.
_SENTENCE = re.compile(r"[^\n]*?(?:[.!?][\"'”’)\]]*(?=\s)|\n|$)")
# A period after one of these (or after a lone capital, an initial) does not end the sentence:
# "Plan No. 168-KH/ĐU", "Lt. Gen. Ha Tho Binh", "J. Smith".
_ABBREVIATION = re.compile(
    r"(?:\b(?:No|Nos|Mr|Mrs|Ms|Dr|Prof|Gen|Lt|Col|Maj|Capt|Sgt|Cpl|Adm|Rev|Hon|St|Jr|Sr|vs|etc|approx|Inc|Ltd|Co"
    r"|Corp|Dept|Art|Fig|Vol|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|e\.g|i\.e)|\b[A-Z])\.$"
)


@dataclass(frozen=True)
class Chunking:
    """How documents are cut into passages."""

    words: int  # about this many words a passage
    overlap_words: int  # the next passage starts with up to this many words of the previous one
    max_chars: int  # and no passage is longer than this, even text without spaces

    @classmethod
    def from_settings(cls, settings) -> "Chunking":
        return cls(settings.chunk_words, settings.chunk_overlap_words, settings.max_passage_chars)


@dataclass(frozen=True)
class Passage:
    passage_id: int  # position in the index
    doc_id: str
    title: str
    start: int
    end: int
    text: str  # == document.text[start:end]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed, in order.

    A period does not end a sentence after an abbreviation or an initial, nor when the next
    sentence would start with a lower-case letter or a digit on the same line.
    """
    spans: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        seg = text[s:e]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg) - len(seg.rstrip())
        if e - trail <= s + lead:
            continue
        s, e = s + lead, e - trail
        if spans and _continues(text, spans[-1], s):
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans


def _continues(text: str, prev: tuple[int, int], start: int) -> bool:
    """Whether the sentence at ``start`` is really the rest of ``prev`` (a false stop at a period)."""
    if "\n" in text[prev[1] : start] or not text[prev[1] - 1 : prev[1]] == ".":
        return False
    return bool(_ABBREVIATION.search(text[max(prev[0], prev[1] - 12) : prev[1]])) or text[start].islower() or text[start].isdigit()


def _words(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0] : span[1]].split())


def _cut_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    """A span longer than ``max_chars`` in pieces of at most that many characters, cut at the last
    whitespace inside each piece where there is one (a run without spaces, such as base64, is cut anywhere)."""
    s, e = span
    out = []
    while e - s > max_chars:
        cut = s + max_chars
        space = max(text.rfind(" ", s + 1, cut), text.rfind("\n", s + 1, cut))
        if space > s + max_chars // 2:
            cut = space
        out.append((s, cut))
        s = cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        out.append((s, e))
    return out


def chunk_document(doc: Document, chunk_words: int, overlap_words: int, max_chars: int) -> list[tuple[int, int]]:
    """Group whole sentences into passages of about ``chunk_words`` words and at most ``max_chars`` characters.

    Each next passage starts with the last sentences of the previous one, up to ``overlap_words``
    words, so an answer near a boundary is whole in at least one passage. A sentence longer than
    ``chunk_words`` is split on word boundaries, and any piece still over ``max_chars`` by characters.
    """
    text = doc.text
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        words = [m.span() for m in re.finditer(r"\S+", text[s:e])]
        if len(words) <= chunk_words:
            pieces = [(s, e)]
        else:
            pieces = []
            step = max(1, chunk_words - overlap_words)
            for i in range(0, len(words), step):
                part = words[i : i + chunk_words]
                pieces.append((s + part[0][0], s + part[-1][1]))
                if i + chunk_words >= len(words):
                    break
        for piece in pieces:
            units.extend(_cut_long(text, piece, max_chars))
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, n = i, 0
        while j < len(units) and (n == 0 or (n + _words(text, units[j]) <= chunk_words
                                             and units[j][1] - units[i][0] <= max_chars)):
            n += _words(text, units[j])
            j += 1
        chunks.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # step back over trailing sentences for the overlap, but always move forward
        k, ov = j, 0
        while k - 1 > i and ov + _words(text, units[k - 1]) <= overlap_words:
            k -= 1
            ov += _words(text, units[k])
        i = k
    return chunks


def chunk_documents(docs: list[Document], chunking: Chunking, first_id: int = 0) -> list[Passage]:
    out: list[Passage] = []
    for d in docs:
        for s, e in chunk_document(d, chunking.words, chunking.overlap_words, chunking.max_chars):
            out.append(Passage(first_id + len(out), d.doc_id, d.title, s, e, d.text[s:e]))
    return out


def passage_sentences(passages: list[Passage]) -> tuple[list[str], np.ndarray]:
    """The sentences of every passage in passage order, and ``owner[i]``, the passage of sentence ``i``.

    Both sentence indexes (BM25 and dense) number their sentences this way.
    """
    texts, owner = [], []
    for p in passages:
        for s, e in sentence_spans(p.text):
            texts.append(p.text[s:e])
            owner.append(p.passage_id)
    return texts, np.array(owner, dtype=np.int64)
