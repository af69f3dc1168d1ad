"""The HTTP service (Litestar): ask, search, documents (read and write), health, and the chat page.

The JSON contract lives in ``schemas.py``. Models are loaded once, in the lifespan (or given to
``create_app``); inference runs in worker threads so the event loop stays free. Domain problems are
turned into JSON by the exception handlers here, nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from litestar import Controller, Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.params import Parameter
from litestar.static_files import create_static_files_router

from qa.answering.pipeline import AnswerPipeline
from qa.errors import UserProblem
from qa.settings import MAX_QUESTION_CHARS, MAX_TOP_K, Mode, Settings
from qa.web.corpus import LiveCorpus
from qa.web.documents import DocumentController
from qa.web.schemas import AskRequest, AskResponse, Health, SearchResponse, SearchResult

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def _not_blank(value: str, key: str) -> str:
    if not value.strip():
        raise ValidationException(detail=f"Validation failed: {key} must not be empty or whitespace",
                                  extra=[{"key": key, "message": "must not be empty or whitespace"}])
    return value


class AskController(Controller):
    path = "/api"

    @post("/ask", sync_to_thread=True, status_code=200)
    def ask(self, data: AskRequest, pipeline: AnswerPipeline) -> AskResponse:
        """Answer a question with spans copied from the articles, each with its citation."""
        _not_blank(data.question, "question")
        return AskResponse.of(pipeline.ask(data.question, data.top_k, data.max_answers))

    @get("/search", sync_to_thread=True)
    def search(
        self,
        pipeline: AnswerPipeline,
        q: Annotated[str, Parameter(min_length=1, max_length=MAX_QUESTION_CHARS, description="the query")],
        k: Annotated[int | None, Parameter(ge=1, le=MAX_TOP_K, description="passages to return (default QA_TOP_K)")] = None,
        mode: Annotated[Mode | None, Parameter(description="hybrid, dense or lexical (default QA_RETRIEVAL_MODE)")] = None,
    ) -> SearchResponse:
        """Ranked passages for a query, with scores and character offsets into their documents."""
        _not_blank(q, "q")
        t0 = time.perf_counter()
        mode = mode or pipeline.mode
        hits = pipeline.retriever.search(q, k or pipeline.top_k, mode)
        return SearchResponse(q, mode, [SearchResult.of(h) for h in hits], (time.perf_counter() - t0) * 1000)


@get("/health")
async def health(pipeline: AnswerPipeline) -> Health:
    return Health.of(pipeline.retriever.index.manifest, str(pipeline.reader.model_dir))


def chat_page_html(settings: Settings) -> str:
    """The chat page with the service's own input limits and defaults filled in."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for name, value in (("max_question_chars", MAX_QUESTION_CHARS), ("max_top_k", MAX_TOP_K), ("top_k", settings.top_k)):
        html = html.replace("{{ %s }}" % name, str(value))
    return html


def user_problem_handler(_: Request, exc: UserProblem) -> Response:
    """A configured index or reader that cannot be used: the service cannot answer until it is fixed."""
    return Response({"status_code": 503, "detail": str(exc)}, status_code=503, media_type=MediaType.JSON)


def _current_pipeline(state: State) -> AnswerPipeline:
    """The pipeline over the index as it stands when the request starts; the request keeps it to the end."""
    return state.corpus.pipeline


def _corpus(state: State) -> LiveCorpus:
    return state.corpus


def _settings(state: State) -> Settings:
    return state.settings


async def _follow_the_index(corpus: LiveCorpus, every: float) -> None:
    """Pick up snapshots that other processes write, every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        try:
            await anyio.to_thread.run_sync(corpus.refresh)
        except Exception:  # a snapshot that cannot be read now is tried again at the next look
            log.exception("could not load the new index snapshot")


def create_app(settings: Settings | None = None, pipeline: AnswerPipeline | None = None) -> Litestar:
    """Build the app. With no ``pipeline`` given, one is loaded from ``settings`` in the lifespan."""
    settings = settings or Settings()
    page = chat_page_html(settings)

    @asynccontextmanager
    async def serve_corpus(app: Litestar) -> AsyncIterator[None]:
        loaded = app.state.pipeline or await anyio.to_thread.run_sync(AnswerPipeline.from_settings, settings)
        app.state.corpus = LiveCorpus(loaded, settings)
        await anyio.to_thread.run_sync(app.state.corpus.remove_leftovers)
        follower = asyncio.create_task(_follow_the_index(app.state.corpus, settings.index_poll_seconds))
        try:
            yield
        finally:
            follower.cancel()

    @get("/", include_in_schema=False, media_type=MediaType.HTML)
    async def chat_page() -> str:
        return page

    return Litestar(
        route_handlers=[AskController, DocumentController, health, chat_page,
                        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False)],
        dependencies={"pipeline": Provide(_current_pipeline, sync_to_thread=False),
                      "corpus": Provide(_corpus, sync_to_thread=False),
                      "settings": Provide(_settings, sync_to_thread=False)},
        lifespan=[serve_corpus],
        exception_handlers={UserProblem: user_problem_handler},
        state=State({"pipeline": pipeline, "settings": settings, "corpus": None}),
        request_max_body_size=settings.max_request_bytes,
    )
