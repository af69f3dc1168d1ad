"""The HTTP service (Litestar): ask, search, documents, health, and the chat page.

The API contract of ``POST /api/ask`` is fixed; later work may add fields, never change these.
Models are loaded once at startup; inference runs in worker threads so the event loop stays free.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Litestar, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Parameter
from litestar.response import File
from litestar.static_files import create_static_files_router

from qa.answering import AnswerPipeline, AskResult, load_pipeline
from qa.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
MAX_QUESTION = 1000


class AskRequest(msgspec.Struct, forbid_unknown_fields=False):
    question: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUESTION)]
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] | None = None
    max_answers: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None


class SearchResult(msgspec.Struct):
    doc_id: str
    title: str
    start: int
    end: int
    passage: str
    score: float
    dense_score: float | None
    lexical_score: float | None


class SearchResponse(msgspec.Struct):
    query: str
    mode: str
    results: list[SearchResult]
    took_ms: float


class DocumentSummary(msgspec.Struct):
    doc_id: str
    title: str
    length: int


class DocumentBody(msgspec.Struct):
    doc_id: str
    title: str
    text: str


def _not_blank(value: str, key: str) -> str:
    if not value.strip():
        raise ValidationException(detail=f"Validation failed: {key} must not be empty or whitespace",
                                  extra=[{"key": key, "message": "must not be empty or whitespace"}])
    return value


class AskController(Controller):
    path = "/api"

    @post("/ask", sync_to_thread=True, status_code=200)
    def ask(self, data: AskRequest, pipeline: AnswerPipeline) -> AskResult:
        """Answer a question with spans copied from the articles, each with its citation."""
        _not_blank(data.question, "question")
        return pipeline.ask(data.question, data.top_k, data.max_answers)

    @get("/search", sync_to_thread=True)
    def search(
        self,
        pipeline: AnswerPipeline,
        q: Annotated[str, Parameter(min_length=1, max_length=MAX_QUESTION, description="the query")],
        k: Annotated[int, Parameter(ge=1, le=50)] = 5,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    ) -> SearchResponse:
        """Ranked passages for a query, with scores and character offsets into their documents."""
        _not_blank(q, "q")
        t0 = time.perf_counter()
        hits = pipeline.retriever.search(q, k, mode)
        results = [SearchResult(h.passage.doc_id, h.passage.title, h.passage.start, h.passage.end, h.passage.text,
                                h.score, h.dense_score, h.lexical_score) for h in hits]
        return SearchResponse(q, mode, results, (time.perf_counter() - t0) * 1000)


class DocumentController(Controller):
    path = "/api/documents"

    @get("/")
    async def list_documents(self, pipeline: AnswerPipeline) -> list[DocumentSummary]:
        docs = pipeline.retriever.index.documents.values()
        return [DocumentSummary(d.doc_id, d.title, len(d.text)) for d in docs]

    @get("/{doc_id:str}")
    async def get_document(self, doc_id: str, pipeline: AnswerPipeline) -> DocumentBody:
        doc = pipeline.retriever.index.documents.get(doc_id)
        if doc is None:
            raise NotFoundException(detail=f"no document with id {doc_id!r}")
        return DocumentBody(doc.doc_id, doc.title, doc.text)


@get("/health")
async def health(pipeline: AnswerPipeline) -> dict:
    m = pipeline.retriever.index.manifest
    return {"status": "ok", "documents": m.document_count, "passages": m.passage_count,
            "embedding_model": m.embedding_model, "reader": str(pipeline.reader.model_dir)}


@get("/", include_in_schema=False)
async def chat_page() -> File:
    return File(STATIC_DIR / "index.html", content_disposition_type="inline", media_type="text/html")


def create_app(settings: Settings | None = None, pipeline: AnswerPipeline | None = None) -> Litestar:
    """Build the app. With no ``pipeline`` given, one is loaded from ``settings`` at startup."""
    settings = settings or Settings()

    def startup(app: Litestar) -> None:
        if getattr(app.state, "pipeline", None) is None:
            app.state.pipeline = load_pipeline(settings)

    def provide_pipeline(state: State) -> AnswerPipeline:
        return state.pipeline

    return Litestar(
        route_handlers=[AskController, DocumentController, health, chat_page,
                        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False)],
        dependencies={"pipeline": Provide(provide_pipeline, sync_to_thread=False)},
        on_startup=[startup],
        state=State({"pipeline": pipeline}),
    )
