"""The Python client of the HTTP API: ``Client`` (and ``AsyncClient``) return the wire contract's own types
(``qa/web/schemas.py``) and raise ``ApiError`` subclasses for error statuses. See ``api.py``."""

from qa.client.api import (DEFAULT_URL, ApiError, AsyncClient, BadRequest, Client, NotFound, QAClientError,
                           RequestTimedOut, ServerError, ServiceBusy, ServiceUnreachable, TooLarge, Unauthorized,
                           UnexpectedResponse, WritesOff)
from qa.web.schemas import (AnswerOut, AskRequest, AskResponse, CitationOut, DocumentBody, DocumentSummary, Health,
                            Rejection, SearchResponse, SearchResult, WriteResponse)

__all__ = ["DEFAULT_URL", "AnswerOut", "ApiError", "AskRequest", "AskResponse", "AsyncClient", "BadRequest",
           "CitationOut", "Client", "DocumentBody", "DocumentSummary", "Health", "NotFound", "QAClientError",
           "Rejection", "RequestTimedOut", "SearchResponse", "SearchResult", "ServerError", "ServiceBusy",
           "ServiceUnreachable", "TooLarge", "Unauthorized", "UnexpectedResponse", "WriteResponse", "WritesOff"]
