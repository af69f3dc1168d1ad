"""The HTTP service (Litestar): ask, search, documents (read and write), health, metrics and the chat page.

The JSON contract lives in ``schemas.py``; the edge (security headers, request checks, error bodies) in
``edge.py``; admission control in ``admission.py``. Models are loaded once, in the lifespan (or given to
``create_app``); inference runs in worker threads so the event loop stays free. Domain problems are
turned into JSON by the exception handlers here, nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Controller, Litestar, MediaType, Request, Response, get, head, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.params import Parameter
from litestar.response import File
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qa.answering.pipeline import AnswerPipeline
from qa.reader import config as reader_config
from qa.reader.batching import serving_reader
from qa.search.filters import BadFilter, Filter
from qa.errors import TimeUp, UserProblem
from qa.limits import VISIBLE
from qa.settings import MAX_QUESTION_CHARS, MAX_TOP_K, REPO_ROOT, Mode, Settings
from qa.web.admission import SHED_DETAIL, Admission, ClientGone, Shed
from qa.web.corpus import LiveCorpus
from qa.web.documents import DocumentController
from qa.web.edge import (add_headers, http_error, make_request_check, mark_response, options_naming_every_method,
                         request_id, server_error)
from qa.web.metrics import Metrics
from qa.version import service_version
from qa.web.schemas import (DAY_SCHEMA, AskRequest, AskResponse, Health, SearchResponse, SearchResult, SourceCount,
                            error_responses)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}  # all the page loads
log = logging.getLogger(__name__)


def _not_blank(value: str, key: str) -> str:
    """Blank is also a text of only invisible characters (zero-width spaces, joiners, controls)."""
    visible = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp"))
    if not visible.strip():
        raise ValidationException(detail=f"Validation failed: {key} must not be empty or whitespace",
                                  extra=[{"key": key, "message": "must not be empty or whitespace"}])
    return value


def _strict(raw: object) -> AskRequest:
    """The decoded body converted without turning strings into numbers: ``"top_k": "5"`` is an error, not 5
    (Litestar's own conversion of ``data`` is lax). A whole number written as ``5.0`` is a JSON integer and
    counts as one."""
    if isinstance(raw, dict):
        raw = dict(raw)  # Litestar caches the decoded body: leave it as it came
        for key in ("top_k", "max_answers"):
            if isinstance(raw.get(key), float) and raw[key].is_integer():
                raw[key] = int(raw[key])
    try:
        return msgspec.convert(raw, AskRequest, strict=True)
    except msgspec.ValidationError as e:
        field = str(e).rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in str(e) else "body"
        raise ValidationException(detail=f"Validation failed: {e}", extra=[{"key": field, "message": str(e)}]) from None


class AskController(Controller):
    path = "/api"

    @post("/ask", status_code=200, responses=error_responses(400, 415, 503))
    async def ask(self, data: AskRequest, request: Request, pipeline: AnswerPipeline, admission: Admission) -> AskResponse:
        """Answer a question with spans copied from the articles, each with its citation."""
        data = _strict(await request.json())  # the JSON Litestar decoded for ``data``, not decoded again
        _not_blank(data.question, "question")
        where = _filter(data.since, data.until, data.source)
        order = data.order or "score"
        # a repeat is answered from the snapshot's cache without waiting for a turn to read
        result = pipeline.cached(data.question, data.top_k, data.max_answers, where=where, order=order)
        if result is None:
            result = await admission.run(request, lambda deadline: pipeline.ask(data.question, data.top_k,
                                                                                data.max_answers, deadline=deadline,
                                                                                where=where, order=order))
        return AskResponse.of(result)

    @get("/search", responses=error_responses(400, 503))
    async def search(
        self,
        request: Request,
        pipeline: AnswerPipeline,
        admission: Admission,
        q: Annotated[str, Parameter(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=VISIBLE, description="the query")],
        k: Annotated[int | None, Parameter(ge=1, le=MAX_TOP_K, description="passages to return (default QA_TOP_K)")] = None,
        mode: Annotated[Mode | None, Parameter(description="hybrid, dense or lexical (default QA_RETRIEVAL_MODE)")] = None,
        since: Annotated[str | None, Parameter(max_length=40, schema_extra=DAY_SCHEMA, description="only articles "
                                               "published on or after this day (YYYY-MM-DD)")] = None,
        until: Annotated[str | None, Parameter(max_length=40, schema_extra=DAY_SCHEMA, description="only articles "
                                               "published on or before this day (YYYY-MM-DD)")] = None,
        source: Annotated[list[str] | None, Parameter(max_items=100, description="only articles from this source "
                                                      "(repeat for several)")] = None,
    ) -> SearchResponse:
        """Ranked passages for a query, with scores and character offsets into their documents; with
        ``since``, ``until`` or ``source``, the best passages among the articles inside them."""
        _not_blank(q, "q")
        where = _filter(since, until, source)
        t0 = time.perf_counter()
        mode = mode or pipeline.mode
        hits = await admission.run(request, lambda _deadline: pipeline.retriever.search(q, k or pipeline.top_k, mode,
                                                                                         where))
        documents = pipeline.retriever.index.documents
        return SearchResponse(q, mode, [SearchResult.of(h, documents.get(h.passage.doc_id)) for h in hits],
                              (time.perf_counter() - t0) * 1000)


def _filter(since: str | None, until: str | None, source: str | list[str] | None) -> Filter | None:
    """The request's filter, or a 400 naming the part that is wrong."""
    try:
        return Filter.of(since, until, source) or None
    except BadFilter as e:
        key = str(e).split(" ", 1)[0]
        raise ValidationException(detail=f"Validation failed: {e}", extra=[{"key": key, "message": str(e)}]) from None


@get("/api/sources")
async def sources(pipeline: AnswerPipeline) -> list[SourceCount]:
    """The sources of the articles (site or feed names), most articles first: what ``source`` can filter on."""
    counts: dict[str, int] = {}
    for doc in pipeline.retriever.index.documents.values():
        for name in {o.source for o in doc.origins if o.source}:
            counts[name] = counts.get(name, 0) + 1
    return [SourceCount(name, n) for name, n in sorted(counts.items(), key=lambda x: (-x[1], x[0].casefold()))]


def _model_name(model_dir: Path) -> str:
    """A model's folder as a user names it: relative to the project, never an absolute path."""
    try:
        return str(Path(model_dir).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return Path(model_dir).name


@get("/health", responses=error_responses(503))
async def health(pipeline: AnswerPipeline) -> Health:
    verifier = pipeline.verifier
    return Health.of(pipeline.retriever.index.manifest, _model_name(pipeline.reader.model_dir),
                     _model_name(verifier.model_dir) if verifier is not None else None,
                     service_version(), reader_config.version(pipeline.reader.config))


@head("/health")
async def health_head(pipeline: AnswerPipeline) -> None:
    """200 with no body once models and index are loaded (for load balancers and HEALTHCHECK)."""


@get("/static/{name:str}", include_in_schema=False)
async def static_file(name: str) -> File:
    if name not in STATIC_FILES:
        raise NotFoundException()
    return File(STATIC_DIR / name, media_type=STATIC_FILES[name], content_disposition_type="inline")


def chat_page_html(settings: Settings) -> str:
    """The chat page with the service's own input limits and defaults filled in."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for name, value in (("max_question_chars", MAX_QUESTION_CHARS), ("max_top_k", MAX_TOP_K), ("top_k", settings.top_k)):
        html = html.replace("{{ %s }}" % name, str(value))
    return html


def user_problem_handler(request: Request, exc: UserProblem) -> Response:
    """A configured index or reader that cannot be used: the service cannot answer until it is fixed."""
    return Response({"status_code": 503, "detail": str(exc)}, status_code=503, media_type=MediaType.JSON)


def busy_handler(request: Request, exc: Exception) -> Response:
    """Shed or past its deadline: a quick, honest 503 that says when to come back."""
    retry_after = "1"
    if isinstance(exc, Shed):  # shed in the app: it was served without the gate in front (server.py)
        detail = SHED_DETAIL
        retry_after = str(random.choice(request.app.state.admission.retry_after_values()))
    elif isinstance(exc, ClientGone):
        detail = "the client went away before the question's turn"
    else:
        detail = f"the question took longer than the deadline ({exc}); try again, or ask with a smaller top_k"
    return Response({"status_code": 503, "detail": detail, "request_id": request_id(request.scope)}, status_code=503,
                    media_type=MediaType.JSON, headers={"Retry-After": retry_after})


def _current_pipeline(state: State) -> AnswerPipeline:
    """The pipeline over the index as it stands when the request starts; the request keeps it to the end."""
    return state.corpus.pipeline


def _corpus(state: State) -> LiveCorpus:
    return state.corpus


def _settings(state: State) -> Settings:
    return state.settings


def _admission(state: State) -> Admission:
    return state.admission


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
    admission = Admission.from_settings(settings)
    state = State({"pipeline": pipeline, "settings": settings, "corpus": None, "admission": admission})
    metrics = Metrics(admission, lambda: state.corpus)

    @asynccontextmanager
    async def serve_corpus(app: Litestar) -> AsyncIterator[None]:
        loaded = app.state.pipeline or await anyio.to_thread.run_sync(
            lambda: AnswerPipeline.from_settings(settings, reader=serving_reader(settings)))
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

    @get("/metrics", include_in_schema=False)
    async def metrics_page() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    plugins = [JsonRenderPlugin()] + ([SwaggerRenderPlugin()] if settings.api_docs else [])
    return Litestar(
        route_handlers=[options_naming_every_method("/health"),
                        AskController, DocumentController, health, health_head, chat_page, static_file, metrics_page,
                        sources],
        dependencies={"pipeline": Provide(_current_pipeline, sync_to_thread=False),
                      "corpus": Provide(_corpus, sync_to_thread=False),
                      "settings": Provide(_settings, sync_to_thread=False),
                      "admission": Provide(_admission, sync_to_thread=False)},
        lifespan=[serve_corpus],
        before_request=make_request_check(settings.max_json_depth, settings.served_hosts()),
        after_request=mark_response,
        before_send=[add_headers],
        after_response=metrics.observe,
        exception_handlers={UserProblem: user_problem_handler, Shed: busy_handler, ClientGone: busy_handler,
                            TimeUp: busy_handler, HTTPException: http_error, Exception: server_error},
        openapi_config=OpenAPIConfig(title="qa-news", version=service_version(), path="/schema", render_plugins=plugins),
        state=state,
        request_max_body_size=settings.max_request_bytes,
    )
