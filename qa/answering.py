"""The question-answering pipeline: retrieve passages, read them, merge, rank, decide "not found"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from qa.reader.model import ExtractiveReader
from qa.retrieval import Mode, Retriever


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
    score: float  # 0..1; above 0.5 the reader prefers this span to "no answer"
    citations: list[Citation] = field(default_factory=list)


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    took_ms: float


class AnswerPipeline:
    """Joins a retriever and a reader; holds no state beyond the components it was given."""

    def __init__(self, retriever: Retriever, reader: ExtractiveReader, top_k: int = 5, max_answers: int = 3,
                 mode: Mode = "hybrid", spans_per_passage: int = 2) -> None:
        self.retriever = retriever
        self.reader = reader
        self.top_k = top_k
        self.max_answers = max_answers
        self.mode = mode
        self.spans_per_passage = spans_per_passage

    def ask(self, question: str, top_k: int | None = None, max_answers: int | None = None,
            mode: Mode | None = None) -> AskResult:
        t0 = time.perf_counter()
        question = question.strip()
        hits = self.retriever.search(question, top_k or self.top_k, mode or self.mode)
        spans = self.reader.read(question, [h.passage.text for h in hits], top_n=self.spans_per_passage)
        # The same answer found in several passages is one answer with every citation. Answers merge
        # on their exact text, so that document.text[start:end] == answer.text holds for each citation.
        merged: dict[str, Answer] = {}
        for hit, passage_spans in zip(hits, spans):
            p = hit.passage
            for s in passage_spans:
                score = self.reader.confidence(s.margin)
                if score < 0.5:  # the reader prefers "no answer in this passage"
                    continue
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

    reader = ExtractiveReader(settings.reader_dir, settings.reader_max_length, settings.reader_stride,
                              settings.max_answer_tokens, settings.reader_batch_size, settings.threads,
                              settings.no_answer_threshold, settings.reader_int8)
    ExtractiveReader.check_files(reader.model_dir)  # fail fast, before the slower loads
    embedder = Embedder(settings.embedding_path(), settings.embedding_name, settings.embed_batch_size)
    index = PassageIndex.load(settings.index_dir, embedder.name, embedder.dim)
    reader.warm_up()
    retriever = Retriever(index, embedder, FusionParams(settings.lexical_weight, settings.candidates))
    return AnswerPipeline(retriever, reader, settings.top_k, settings.max_answers, settings.retrieval_mode)
