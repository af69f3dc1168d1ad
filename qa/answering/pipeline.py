"""The question-answering pipeline: retrieve passages, read them, merge, rank, decide "not found"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

from qa.answering.cache import AnswerCache
from qa.answering.no_answer import NoAnswerPolicy, features
from qa.answering.verifier import AnswerVerifier, Proposal
from qa.reader.extractive import ExtractiveReader, ReaderNotFound, SpanAnswer
from qa.search.embedding import Embedder
from qa.corpus.documents import Origin
from qa.search.filters import Filter
from qa.search.retriever import FusionParams, Hit, Retriever
from qa.search.store import PassageIndex
from qa.settings import Mode, Settings
from qa.timing import stage


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    start: int  # answer offsets into the document text: document.text[start:end] == answer text
    end: int
    passage: str
    passage_start: int
    url: str | None = None  # where and when the article was published, as far as it says
    published: str | None = None
    source: str | None = None
    author: str | None = None
    page: int | None = None  # the PDF page the answer starts on
    other_sources: tuple[Origin, ...] = ()  # other places the identical text was published


Order = Literal["score", "recent"]


@dataclass
class Answer:
    text: str
    score: float  # 0..1, the no-answer policy's probability that this answer is right
    citations: list[Citation] = field(default_factory=list)


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    took_ms: float


@dataclass(frozen=True)
class Candidate:
    """One span the reader proposes, with what the no-answer decision looks at (``no_answer.py``)."""

    hit: Hit
    span: SpanAnswer
    features: tuple[float, ...]  # the no-answer policy's inputs, in the order of no_answer.FEATURES

    @property
    def margin(self) -> float:
        return self.span.margin

    def citation(self) -> Citation:
        p, s = self.hit.passage, self.span
        return Citation(p.doc_id, p.title, p.start + s.start, p.start + s.end, p.text, p.start)


def policy_for_reader(reader: ExtractiveReader) -> NoAnswerPolicy:
    """The tuned policy in the reader's qa_config.json, unless a threshold override is set."""
    reader.warm_up()
    cfg = reader.config.get("no_answer_policy")
    if cfg and reader.threshold_override is None:
        try:
            return NoAnswerPolicy.from_config(cfg)
        except ValueError as e:
            raise ReaderNotFound(f"{reader.model_dir}: {e}") from e
    return NoAnswerPolicy.margin_only(reader.no_answer_threshold)


def _normal(text: str) -> str:
    """An answer as compared for sameness: case, punctuation, articles and spacing do not count."""
    text = "".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace())
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def _overlaps(a: Citation, b: Citation) -> bool:
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


def _anchor(text: str, cite: Citation) -> Citation | None:
    """A citation of ``text`` at the place ``cite`` points to: where ``text`` occurs in its passage
    overlapping the cited span, or None when it does not occur there."""
    rel_s, rel_e = cite.start - cite.passage_start, cite.end - cite.passage_start
    at = cite.passage.find(text)
    while at != -1:
        if at < rel_e and rel_s < at + len(text):
            start = cite.passage_start + at
            return Citation(cite.doc_id, cite.title, start, start + len(text), cite.passage, cite.passage_start)
        at = cite.passage.find(text, at + 1)
    return None


def merge_answers(scored: list[tuple[Candidate, float]]) -> list[Answer]:
    """One answer per piece of evidence, best first.

    Spans with the same text are one answer with every citation. Then, best first, an answer whose
    citations overlap a better one's in the same document, or whose text differs from a better one's only
    in case, punctuation or articles ("the Office of Military Region 4"), joins that better answer: its
    places are cited with the better answer's text where that text stands there, so
    ``document.text[start:end] == answer.text`` holds for every citation; a place where it does not is dropped.
    """
    by_text: dict[str, Answer] = {}
    for cand, score in scored:
        cite = cand.citation()
        ans = by_text.setdefault(cand.span.text, Answer(cand.span.text, score))
        ans.score = max(ans.score, score)
        if all((c.doc_id, c.start, c.end) != (cite.doc_id, cite.start, cite.end) for c in ans.citations):
            ans.citations.append(cite)
    kept: list[Answer] = []
    for ans in sorted(by_text.values(), key=lambda a: -a.score):
        home = next((k for k in kept if _normal(k.text) == _normal(ans.text)
                     or any(_overlaps(a, b) for a in ans.citations for b in k.citations)), None)
        if home is None:
            kept.append(ans)
            continue
        for cite in ans.citations:
            moved = _anchor(home.text, cite)
            if moved is not None and not any(_overlaps(moved, c) for c in home.citations):
                home.citations.append(moved)
    return kept


def _copies(answers) -> list[Answer]:
    """Answers with their own citation lists: the cache keeps one copy, each caller gets another to reorder."""
    return [Answer(a.text, a.score, list(a.citations)) for a in answers]


def newest_first(answers: list[Answer], margin: float) -> list[Answer]:
    """Answers (best first) whose score is within ``margin`` of the best, newest article first (undated
    last); the rest after them, by score."""
    if not answers:
        return answers
    bar = max(a.score for a in answers) - margin
    close = [a for a in answers if a.score >= bar]
    rest = [a for a in answers if a.score < bar]
    close.sort(key=lambda a: max((c.published or "" for c in a.citations), default=""), reverse=True)
    return close + rest


class AnswerPipeline:
    """Joins a retriever, a reader and (when the policy weighs its logit) a verifier over one index
    snapshot; its only state beyond those components is the cache of answers it gave."""

    def __init__(self, retriever: Retriever, reader: ExtractiveReader, *, top_k: int, max_answers: int, mode: Mode,
                 spans_per_passage: int, policy: NoAnswerPolicy | None = None,
                 verifier: AnswerVerifier | None = None, recent_margin: float = 0.1,
                 answer_cache_size: int = 0) -> None:
        self.retriever = retriever
        self.cache = AnswerCache(answer_cache_size)  # this snapshot's answers; another snapshot starts empty
        self.recent_margin = recent_margin  # order="recent": answers this close to the best count as tied
        self.reader = reader
        self.policy = policy or policy_for_reader(reader)
        if self.policy.uses_verifier and verifier is None:
            raise ValueError("this no-answer policy weighs the answer verifier's logit: give the pipeline a verifier")
        self.verifier = verifier
        self.top_k = top_k
        self.max_answers = max_answers
        self.mode = mode
        self.spans_per_passage = spans_per_passage

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever | None = None,
                      reader: ExtractiveReader | None = None, verifier: AnswerVerifier | None = None,
                      **overrides) -> "AnswerPipeline":
        """Load the index, the embedding model, the reader and (when its policy needs one) the verifier
        once, as configured (those not given); raise ``IndexProblem``, ``ReaderNotFound`` or
        ``VerifierNotFound`` when one is missing."""
        if reader is None:
            reader = ExtractiveReader.from_settings(settings)
            ExtractiveReader.check_files(reader.model_dir)  # fail fast, before the slower loads
        policy = overrides.get("policy") or policy_for_reader(reader)
        if verifier is None and policy.uses_verifier:
            verifier = AnswerVerifier.from_settings(settings)
            verifier.check_files()
        if retriever is None:
            embedder = Embedder.from_settings(settings)
            index = PassageIndex.load(settings.index_dir, embedder.name, embedder.dim)
            retriever = Retriever(index, embedder, FusionParams.from_settings(settings))
        reader.warm_up()
        if verifier is not None:
            verifier.warm_up()
        kwargs = dict(top_k=settings.top_k, max_answers=settings.max_answers, mode=settings.retrieval_mode,
                      spans_per_passage=settings.spans_per_passage, policy=policy, verifier=verifier,
                      recent_margin=settings.recent_margin, answer_cache_size=settings.answer_cache_size)
        kwargs.update(overrides)
        return cls(retriever, reader, **kwargs)

    def with_index(self, index: PassageIndex) -> "AnswerPipeline":
        """The same pipeline over another snapshot of the index (same models, same decision)."""
        r = self.retriever
        return AnswerPipeline(Retriever(index, r.embedder, r.fusion), self.reader, top_k=self.top_k,
                              max_answers=self.max_answers, mode=self.mode, spans_per_passage=self.spans_per_passage,
                              policy=self.policy, verifier=self.verifier, recent_margin=self.recent_margin,
                              answer_cache_size=self.cache.capacity)

    def _with_sources(self, answer: Answer) -> Answer:
        """The answer with each citation saying where and when its article was published (and its page)."""
        documents = self.retriever.index.documents
        cites = []
        for c in answer.citations:
            d = documents.get(c.doc_id)
            cites.append(c if d is None else replace(c, url=d.url, published=d.published, source=d.source,
                                                       author=d.author, page=d.page_of(c.start),
                                                       other_sources=d.other_sources))
        return Answer(answer.text, answer.score, cites)

    def candidates(self, question: str, top_k: int | None = None, mode: Mode | None = None,
                   deadline: float | None = None, where: Filter | None = None) -> list[Candidate]:
        """Retrieve (among the articles ``where`` admits), read every passage in one batched pass, verify
        the proposed spans (with a verifier) in another, and describe each span. Past ``deadline``
        (``time.monotonic()``) the work stops with ``TimeUp``."""
        hits = self.retriever.search(question, top_k or self.top_k, mode or self.mode, where)
        spans = self.reader.read(question, [h.passage.text for h in hits], top_n=self.spans_per_passage,
                                 deadline=deadline)
        proposed = [(hit, s) for hit, passage_spans in zip(hits, spans) for s in passage_spans]
        verified: list[float | None] = [None] * len(proposed)
        if self.verifier is not None:
            with stage("verifier"):
                verified = self.verifier.run([Proposal(question, h.passage.text, s.start, s.end) for h, s in proposed],
                                             deadline=deadline)
        with stage("no_answer"):
            top_lex = max((h.lexical_score or 0.0 for h in hits), default=0.0) or 1.0
            top_dense = max((h.dense_score or 0.0 for h in hits), default=0.0)
            out = []
            for (hit, s), v in zip(proposed, verified):
                dense, share = hit.dense_score or 0.0, (hit.lexical_score or 0.0) / top_lex
                out.append(Candidate(hit, s, features(question, hit.passage.text, s.start, s.end, s.margin, dense,
                                                      share, dense - top_dense, v)))
            return out

    def _cache_key(self, question: str, top_k: int | None, max_answers: int | None, mode: Mode | None,
                   where: Filter | None, order: Order) -> tuple:
        # options as they take effect, so an explicit default and an omitted one share an entry
        return (question.strip(), top_k or self.top_k, max_answers or self.max_answers, mode or self.mode,
                where or None, order)

    def _from_cache(self, key: tuple, question: str, t0: float) -> AskResult | None:
        found = self.cache.get(key)
        if found is None:
            return None
        return AskResult(question.strip(), _copies(found), (time.perf_counter() - t0) * 1000)

    def cached(self, question: str, top_k: int | None = None, max_answers: int | None = None,
               mode: Mode | None = None, where: Filter | None = None, order: Order = "score") -> AskResult | None:
        """The answers ``ask`` gave to the same question with the same options over this snapshot, or None."""
        return self._from_cache(self._cache_key(question, top_k, max_answers, mode, where, order), question,
                                time.perf_counter())

    def ask(self, question: str, top_k: int | None = None, max_answers: int | None = None,
            mode: Mode | None = None, deadline: float | None = None, where: Filter | None = None,
            order: Order = "score") -> AskResult:
        """Answers best first; with ``where``, read from the articles it admits only; with ``order="recent"``,
        answers within ``recent_margin`` of the best score come newest article first. A repeat of a question
        already answered over this snapshot, with the same options, is answered from the cache."""
        t0 = time.perf_counter()
        key = self._cache_key(question, top_k, max_answers, mode, where, order)
        hit = self._from_cache(key, question, t0)
        if hit is not None:
            return hit
        question = question.strip()
        candidates = self.candidates(question, top_k, mode, deadline, where)
        with stage("no_answer"):
            scored = [(c, self.policy.probability(c.features)) for c in candidates]
            kept = [(c, p) for c, p in scored if p >= self.policy.cutoff]  # below it "not found" is the better bet
        with stage("merge"):
            answers = [self._with_sources(a) for a in merge_answers(kept)]
            if order == "recent":
                answers = newest_first(answers, self.recent_margin)
            answers = answers[: max_answers or self.max_answers]
        self.cache.put(key, tuple(_copies(answers)))
        return AskResult(question, answers, (time.perf_counter() - t0) * 1000)
