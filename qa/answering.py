"""The question-answering pipeline: retrieve passages, read them, merge, rank, decide "not found"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from qa.no_answer import NoAnswerPolicy, features
from qa.reader.model import ExtractiveReader, ReaderNotFound, SpanAnswer
from qa.retrieval import Hit, Mode, Retriever


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    start: int  # answer offsets into the document text: document.text[start:end] == answer text
    end: int
    passage: str
    passage_start: int


@dataclass
class Answer:
    text: str
    score: float  # 0..1, the no-answer policy's probability that this answer is right
    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    """One span the reader proposes, with what the no-answer decision looks at (``qa/no_answer.py``)."""

    hit: Hit
    span: SpanAnswer
    margin: float  # reader: span score minus the passage's no-answer score
    dense: float  # retrieval: cosine similarity of question and passage (0 when not computed)
    lexical_share: float  # retrieval: lexical score of this passage over the best among those read
    features: tuple[float, ...]  # the no-answer policy's inputs, in the order of no_answer.FEATURES


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


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    took_ms: float


class AnswerPipeline:
    """Joins a retriever and a reader; holds no state beyond the components it was given."""

    def __init__(self, retriever: Retriever, reader: ExtractiveReader, top_k: int = 5, max_answers: int = 3,
                 mode: Mode = "hybrid", spans_per_passage: int = 2, policy: NoAnswerPolicy | None = None) -> None:
        self.retriever = retriever
        self.reader = reader
        self.policy = policy or policy_for_reader(reader)
        self.top_k = top_k
        self.max_answers = max_answers
        self.mode = mode
        self.spans_per_passage = spans_per_passage

    def candidates(self, question: str, top_k: int | None = None, mode: Mode | None = None) -> list[Candidate]:
        """Retrieve, read every passage in one batched pass, and describe each proposed span."""
        hits = self.retriever.search(question, top_k or self.top_k, mode or self.mode)
        spans = self.reader.read(question, [h.passage.text for h in hits], top_n=self.spans_per_passage)
        top_lex = max((h.lexical_score or 0.0 for h in hits), default=0.0) or 1.0
        out = []
        for hit, passage_spans in zip(hits, spans):
            dense, share = hit.dense_score or 0.0, (hit.lexical_score or 0.0) / top_lex
            for s in passage_spans:
                feats = features(question, hit.passage.text, s.start, s.end, s.margin, dense, share)
                out.append(Candidate(hit, s, s.margin, dense, share, feats))
        return out

    def ask(self, question: str, top_k: int | None = None, max_answers: int | None = None,
            mode: Mode | None = None) -> AskResult:
        t0 = time.perf_counter()
        question = question.strip()
        # The same answer found in several passages is one answer with every citation. Answers merge
        # on their exact text, so that document.text[start:end] == answer.text holds for each citation.
        merged: dict[str, Answer] = {}
        for cand in self.candidates(question, top_k, mode):
            score = self.policy.probability(cand.features)
            if score < self.policy.cutoff:  # "not found" is the better bet for this span
                continue
            p, s = cand.hit.passage, cand.span
            cite = Citation(p.doc_id, p.title, p.start + s.start, p.start + s.end, p.text, p.start)
            ans = merged.setdefault(s.text, Answer(s.text, score))
            ans.score = max(ans.score, score)
            if all((c.doc_id, c.start, c.end) != (cite.doc_id, cite.start, cite.end) for c in ans.citations):
                ans.citations.append(cite)
        answers = sorted(merged.values(), key=lambda a: -a.score)[: max_answers or self.max_answers]
        return AskResult(question, answers, (time.perf_counter() - t0) * 1000)


def load_pipeline(settings) -> AnswerPipeline:
    """Load the index, the embedding model and the reader once, as configured; raise if one is missing."""
    from qa.embedding import Embedder
    from qa.index import PassageIndex
    from qa.retrieval import FusionParams

    reader = ExtractiveReader.from_settings(settings)
    ExtractiveReader.check_files(reader.model_dir)  # fail fast, before the slower loads
    embedder = Embedder(settings.embedding_path(), settings.embedding_name, settings.embed_batch_size)
    index = PassageIndex.load(settings.index_dir, embedder.name, embedder.dim)
    reader.warm_up()
    retriever = Retriever(index, embedder, FusionParams.from_settings(settings))
    return AnswerPipeline(retriever, reader, settings.top_k, settings.max_answers, settings.retrieval_mode)
