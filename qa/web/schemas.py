"""The HTTP wire contract: request and response bodies as msgspec Structs, apart from the domain types.

The JSON of these is fixed (tools outside the repo score the service through it): fields may be
added, never renamed, reordered or removed.

The Python client (``qa/client``) decodes the same structs, so this module imports nothing heavier than
msgspec at run time: the domain types below are for type checking only (``tests/client`` checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from qa.limits import MAX_ANSWERS, MAX_DOCUMENTS_PER_REQUEST, MAX_QUESTION_CHARS, MAX_SOURCE_CHARS, MAX_TOP_K, VISIBLE

if TYPE_CHECKING:  # the ``of`` constructors' arguments; importing them would load torch and the stores
    from qa.answering.pipeline import AskResult
    from qa.corpus.documents import Document, Origin
    from qa.search.retriever import Hit
    from qa.search.store import Manifest


SourceNames = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SOURCE_CHARS)]
# The OpenAPI schemas of the filter fields, given whole: Litestar drops the constraints of a type inside a union
# (a source of "" looked valid), and a day is a calendar date or blank for none, not any text (schemathesis
# sent 40 zeros).
DAY_SCHEMA = {"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "pattern": r"^\s*$"}, {"type": "null"}]}
_SOURCE_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_SOURCE_CHARS}
SOURCE_SCHEMA = {"oneOf": [_SOURCE_NAME, {"type": "array", "items": _SOURCE_NAME, "maxItems": 100}, {"type": "null"}]}


class AskRequest(msgspec.Struct, forbid_unknown_fields=False):
    question: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=VISIBLE)]
    top_k: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOP_K)] | None = None
    max_answers: Annotated[int, msgspec.Meta(ge=1, le=MAX_ANSWERS)] | None = None
    # YYYY-MM-DD, inclusive: only articles published on or after (checked in app.py)
    since: Annotated[str | None, msgspec.Meta(extra_json_schema={"extra": DAY_SCHEMA})] = None
    until: Annotated[str | None, msgspec.Meta(extra_json_schema={"extra": DAY_SCHEMA})] = None  # YYYY-MM-DD, inclusive
    source: Annotated[SourceNames | Annotated[list[SourceNames], msgspec.Meta(max_length=100)] | None,
                      msgspec.Meta(extra_json_schema={"extra": SOURCE_SCHEMA})] = None  # one or several
    order: Literal["score", "recent"] | None = None  # "recent": close answers from newer articles first


class SourceOut(msgspec.Struct):
    """One place an article was published."""

    url: str | None = None
    published: str | None = None  # ISO 8601 date or date-time
    source: str | None = None
    author: str | None = None

    @classmethod
    def of(cls, origin: Origin) -> "SourceOut":
        return cls(origin.url, origin.published, origin.source, origin.author)


class CitationOut(msgspec.Struct):
    doc_id: str
    title: str
    start: int  # document.text[start:end] is the answer
    end: int
    passage: str
    passage_start: int
    url: str | None = None  # the article's original, when known
    published: str | None = None  # ISO 8601 date or date-time
    source: str | None = None  # site or feed name
    author: str | None = None
    page: int | None = None  # the PDF page the answer is on (from 1)
    other_sources: list[SourceOut] = msgspec.field(default_factory=list)  # the identical text published elsewhere


class AnswerOut(msgspec.Struct):
    text: str
    score: float
    citations: list[CitationOut]


class AskResponse(msgspec.Struct):
    question: str
    answers: list[AnswerOut]  # best first; empty when the articles do not hold the answer
    took_ms: float

    @classmethod
    def of(cls, result: AskResult) -> "AskResponse":
        return cls(result.question,
                   [AnswerOut(a.text, a.score, [CitationOut(c.doc_id, c.title, c.start, c.end, c.passage, c.passage_start,
                                                            c.url, c.published, c.source, c.author, c.page,
                                                            [SourceOut.of(o) for o in c.other_sources])
                                                for c in a.citations]) for a in result.answers],
                   result.took_ms)


class SearchResult(msgspec.Struct):
    doc_id: str
    title: str
    start: int
    end: int
    passage: str
    score: float
    dense_score: float | None
    lexical_score: float | None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None
    page: int | None = None  # the PDF page the passage starts on

    @classmethod
    def of(cls, hit: Hit, doc: Document | None = None) -> "SearchResult":
        p = hit.passage
        meta = (doc.url, doc.published, doc.source, doc.author, doc.page_of(p.start)) if doc else ()
        return cls(p.doc_id, p.title, p.start, p.end, p.text, hit.score, hit.dense_score, hit.lexical_score, *meta)


class SourceCount(msgspec.Struct):
    source: str
    documents: int


class SearchResponse(msgspec.Struct):
    query: str
    mode: str
    results: list[SearchResult]
    took_ms: float


class DocumentSummary(msgspec.Struct):
    doc_id: str
    title: str
    length: int
    url: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None

    @classmethod
    def of(cls, doc: Document) -> "DocumentSummary":
        return cls(doc.doc_id, doc.title, len(doc.text), doc.url, doc.published, doc.source, doc.author)


class DocumentBody(msgspec.Struct):
    doc_id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None
    other_sources: list[SourceOut] = msgspec.field(default_factory=list)
    pages: list[int] = msgspec.field(default_factory=list)  # a PDF's pages: page n starts at text[pages[n-1]]

    @classmethod
    def of(cls, doc: Document) -> "DocumentBody":
        return cls(doc.doc_id, doc.title, doc.text, doc.url, doc.published, doc.source, doc.author,
                   [SourceOut.of(o) for o in doc.other_sources], list(doc.pages))


class WriteRequest(msgspec.Struct):
    # each item is checked one by one (qa/corpus/hygiene.py, qa/corpus/formats.py), either
    #   {"id", "title"?, "text", "url"?, "published"?, "source"?, "author"?}: an article as text, or
    #   {"content", "content_type", "id"?, "title"?, "url"?, "published"?, "source"?, "author"?}: a page, a feed
    #   or a PDF as it was published (a PDF's content in base64); what is given overrides what is found in it
    documents: Annotated[list[Any], msgspec.Meta(max_length=MAX_DOCUMENTS_PER_REQUEST)]


class Rejection(msgspec.Struct):
    id: str | None  # as sent (JSON text when it was not a string), None when missing
    reason: str


class Merged(msgspec.Struct):
    id: str  # the document sent
    into: str  # the document with the identical text, which now lists this one's source too


class WriteResponse(msgspec.Struct):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    rejected: list[Rejection]
    merged: list[Merged] = msgspec.field(default_factory=list)  # identical text stored once, with both sources


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str
    extra: Any = None


_ERRORS = {400: "bad input: the body or a parameter, named in the detail", 401: "a missing or wrong bearer token",
           403: "writes are turned off (no QA_API_TOKEN)", 404: "no document with this id",
           413: "too many documents in one request, or too large a body", 415: "the body is not application/json",
           503: "busy (shed, Retry-After), past the deadline, or the index or reader cannot be used"}


def error_responses(*codes: int) -> dict:
    """The documented error answers of an operation (OpenAPI), all in the ``ErrorBody`` shape."""
    from litestar.openapi import ResponseSpec

    return {c: ResponseSpec(data_container=ErrorBody, description=_ERRORS[c], generate_examples=False) for c in codes}


class Health(msgspec.Struct):
    status: str
    documents: int
    passages: int
    embedding_model: str
    reader: str
    verifier: str | None  # the answer verifier's folder, when the no-answer policy weighs it
    # The fields above are a fixed contract: new ones go after them, with a default, so that the Python client
    # (qa.client) still reads a server that predates them (null there).
    version: str | None = None  # the service's: the package's version (0.2.0 on)
    reader_version: str | None = None  # the reader's, as its qa_config.json names it ("v23"); null if it names none

    @classmethod
    def of(cls, manifest: Manifest, reader_dir: str, verifier_dir: str | None, version: str,
           reader_version: str | None) -> "Health":
        return cls("ok", manifest.document_count, manifest.passage_count, manifest.embedding_model, reader_dir,
                   verifier_dir, version, reader_version)


def encode(value: msgspec.Struct) -> bytes:
    """The JSON the API sends for ``value`` (the CLI's ``--json`` prints the same)."""
    return msgspec.json.encode(value)
