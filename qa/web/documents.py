"""``/api/documents``: read the articles (open), and add, replace or delete them (with a bearer token)."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post, route
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.enums import HttpMethod
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Link, OpenAPIResponse, Operation
from litestar.params import Parameter

from qa.answering.pipeline import AnswerPipeline
from qa.corpus.documents import documents_from_item
from qa.corpus.hygiene import BadDocument
from qa.settings import Settings
from qa.web.corpus import LiveCorpus
from qa.web.edge import every_method
from qa.web.schemas import (DocumentBody, DocumentSummary, Merged, Rejection, WriteRequest, WriteResponse,
                            error_responses)


def require_token(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Writes need ``Authorization: Bearer <QA_API_TOKEN>``; with no token configured they are off."""
    settings: Settings = connection.app.state.settings
    if settings.api_token is None:
        raise PermissionDeniedException(detail="writes are turned off: start the service with QA_API_TOKEN set, "
                                               "and send that token as 'Authorization: Bearer <token>'")
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    expected = settings.api_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise NotAuthorizedException(detail="a valid token is needed: 'Authorization: Bearer <QA_API_TOKEN>'",
                                     headers={"WWW-Authenticate": "Bearer"})


@dataclass
class WriteOperation(Operation):
    """POST /api/documents in the OpenAPI schema, with links saying that an added document's id is the one
    to read or delete. Without them, tools that infer links (schemathesis) take ``rejected[].id``, the id
    of a document that did not go in, for one that did."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            item = "#/paths/~1api~1documents~1{doc_id}/"
            ok.links = {"GetAddedDocument": Link(operation_ref=item + "get", parameters={"doc_id": "$response.body#/added/0"}),
                        "DeleteAddedDocument": Link(operation_ref=item + "delete",
                                                    parameters={"doc_id": "$response.body#/added/0"})}


def _shown_id(item: object) -> str | None:
    raw = item.get("id") if isinstance(item, dict) else None
    return raw if isinstance(raw, str) or raw is None else json.dumps(raw)[:200]


class DocumentController(Controller):
    path = "/api/documents"

    # A controller registers its handlers in the order of their names: "allow" comes first, so Litestar
    # makes no OPTIONS of its own for these paths (one that would name only the first handler's methods).
    @route(["/", "/{doc_id:str}"], http_method=HttpMethod.OPTIONS, include_in_schema=False)
    async def allow(self, request: Request) -> Response:
        return every_method(request)

    @get("/", responses=error_responses(400))
    async def list_documents(
        self,
        pipeline: AnswerPipeline,
        offset: Annotated[int, Parameter(ge=0, description="documents to skip")] = 0,
        limit: Annotated[int | None, Parameter(ge=1, description="documents to list at most (default: all)")] = None,
    ) -> list[DocumentSummary]:
        docs = list(pipeline.retriever.index.documents.values())
        return [DocumentSummary.of(d) for d in docs[offset : None if limit is None else offset + limit]]

    @get("/{doc_id:str}", responses=error_responses(404))
    async def get_document(self, doc_id: str, pipeline: AnswerPipeline) -> DocumentBody:
        doc = pipeline.retriever.index.documents.get(doc_id)
        if doc is None:
            raise NotFoundException(detail=f"no document with id {doc_id!r}")
        return DocumentBody.of(doc)

    @post("/", guards=[require_token], sync_to_thread=True, status_code=200, operation_class=WriteOperation,
          responses=error_responses(400, 401, 403, 413, 415, 503))
    def write_documents(self, data: WriteRequest, corpus: LiveCorpus, settings: Settings) -> WriteResponse:
        """Add or replace documents, given as text or as published (a web page, a feed, a PDF in base64, with
        its ``content_type``); each bad one (or bad feed entry) is rejected with its reason and the rest go in.
        Nothing is fetched: a ``url`` is where the article was published, not something to download."""
        if len(data.documents) > settings.max_documents_per_request:
            raise HTTPException(status_code=413, detail=f"{len(data.documents)} documents in one request, over the "
                                f"limit of {settings.max_documents_per_request} (QA_MAX_DOCUMENTS_PER_REQUEST)")
        good, rejected, seen = [], [], set()
        for item in data.documents:
            try:
                docs, refused = documents_from_item(item, settings.max_document_bytes, settings.max_content_bytes)
            except BadDocument as e:
                rejected.append(Rejection(_shown_id(item), str(e)))
                continue
            rejected.extend(Rejection(entry, reason) for entry, reason in refused)  # a feed's entries, one by one
            for doc in docs:
                if doc.doc_id in seen:
                    rejected.append(Rejection(doc.doc_id, "the same id came earlier in this request"))
                    continue
                seen.add(doc.doc_id)
                good.append(doc)
        report = corpus.change(upserts=good) if good else None
        return WriteResponse(report.added if report else [], report.updated if report else [],
                             report.unchanged if report else [], rejected,
                             [Merged(sent, into) for sent, into in report.merged] if report else [])

    @delete("/{doc_id:str}", guards=[require_token], sync_to_thread=True, status_code=204,
            responses=error_responses(401, 403, 404, 503))
    def delete_document(self, doc_id: str, corpus: LiveCorpus) -> None:
        if doc_id not in corpus.pipeline.retriever.index.documents:
            raise NotFoundException(detail=f"no document with id {doc_id!r}")
        if corpus.change(deletes=[doc_id]).not_found:  # deleted by another writer meanwhile
            raise NotFoundException(detail=f"no document with id {doc_id!r}")
