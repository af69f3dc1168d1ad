"""The MCP server (``qa mcp``): the service's answers, with their checkable quotes, as tools for LLM agents.

Tools: ``ask`` (``POST /api/ask``), ``search`` (``GET /api/search``), ``get_document`` (a document, or the text
around a citation's offsets); with a token and ``--allow-writes`` also ``add_documents`` and ``delete_document``.

Every tool goes through the HTTP API with ``qa.client.AsyncClient``: to a running server (``--url``), or to
the same Litestar app loaded in this process over an in-memory ASGI transport (no ``--url``). Either way a
tool's answer is the answer ``POST /api/ask`` gives, with the same checks, limits and error messages.

Tool inputs are the wire contract's own types (``AskRequest``; ``search``'s filters are the fields that
``AskRequest`` has beyond ``ASK_ONLY``), so a field the API gains is a tool argument without a change here. A tool's structured result is the API's JSON; its text says the same for a reader:
the quote, its document, title and character offsets (and date, source and URL where the documents have
them), or plainly that the articles do not hold the answer. Bad arguments and every error of the service
come back as tool errors (``isError``), never as a crash of the server.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import msgspec
import mcp_types as types
from mcp.server.lowlevel import Server

from qa.client import (ApiError, AsyncClient, BadRequest, NotFound, QAClientError, ServiceBusy, Unauthorized,
                       WritesOff)
from qa.limits import MAX_QUESTION_CHARS, MAX_TOP_K, VISIBLE
from qa.web.schemas import AskRequest, AskResponse, DocumentBody, SearchResponse, WriteResponse

if TYPE_CHECKING:
    from qa.settings import Settings

log = logging.getLogger("qa.mcp")

# What the agent reads about each argument of ``ask``; a field the API gains without a description of its
# own is described by the entry here of the same name, or else as a field of POST /api/ask.
ARGUMENT_HELP = {
    "question": f"The question, in plain language (1 to {MAX_QUESTION_CHARS:,} characters).",
    "top_k": f"Passages to read (1 to {MAX_TOP_K}; default: the service's, 5). More can find more, slower.",
    "max_answers": "Answers to return at most (1 to 20), best first.",
    "query": "What to look for: words or a question.",
    "k": f"Passages to return (1 to {MAX_TOP_K}; default: the service's, 5).",
    "mode": "hybrid (default: meaning and words mixed), dense (meaning) or lexical (words, BM25).",
    "since": "Only articles published on or after this date (ISO 8601, e.g. 2024-05-01).",
    "until": "Only articles published on or before this date (ISO 8601, e.g. 2024-05-31).",
    "source": "Only articles from this source, or these sources (the publication's name, as the documents give it).",
    "order": "score (default): the best answers first; recent: of answers about as good, newer articles first.",
}
# The fields of AskRequest about what to read and how to rank the answers; the others are filters, which the
# search tool takes too (tests/mcp checks them against GET /api/search's parameters).
ASK_ONLY = ("question", "top_k", "max_answers", "order")
METADATA = ("published", "source", "author", "url", "page")  # shown with a citation where the documents have them
CONTEXT_CHARS = 300
MAX_DOCUMENT_CHARS = 20_000

INSTRUCTIONS = (
    "qa-news answers questions from the news articles it holds. Every answer is a span copied word for word "
    "from one article, with a citation: document id, title and character offsets (document.text[start:end] "
    "is the quote). Quote the answers as they are and cite them; check one with get_document. When ask "
    "returns no answer, the articles do not hold it: say so, and do not present anything else as coming "
    "from them.")


class ArgumentProblem(Exception):
    """A tool was called with arguments that do not fit its input schema."""


# --- the tools' arguments and results, as structs: their JSON schemas are what tools/list publishes ---------


def _filter_fields() -> list[tuple]:
    """The fields ``AskRequest`` has beyond the question and the reading options: the API's filters."""
    out: list[tuple] = []
    for f in msgspec.structs.fields(AskRequest):
        if f.name in ASK_ONLY:
            continue
        if f.required:
            out.append((f.encode_name, f.type))
        elif f.default is not msgspec.NODEFAULT:
            out.append((f.encode_name, f.type, f.default))
        else:
            out.append((f.encode_name, f.type, msgspec.field(default_factory=f.default_factory)))
    return out


SearchArgs = msgspec.defstruct("SearchArgs", [
    ("query", Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=VISIBLE)]),
    ("k", Annotated[int, msgspec.Meta(ge=1, le=MAX_TOP_K)] | None, None),
    ("mode", Literal["hybrid", "dense", "lexical"] | None, None),
    *_filter_fields()], forbid_unknown_fields=True)


class DocumentArgs(msgspec.Struct, forbid_unknown_fields=True):
    doc_id: Annotated[str, msgspec.Meta(min_length=1, description="The document's id (a citation's doc_id).")]
    start: Annotated[int, msgspec.Meta(ge=0, description="A citation's start offset: show the text around "
                                                          "start..end instead of the whole document.")] | None = None
    end: Annotated[int, msgspec.Meta(ge=0, description="A citation's end offset (with start).")] | None = None
    context: Annotated[int, msgspec.Meta(ge=0, le=5000, description="With start and end: characters to show on "
                                                                    "each side.")] = CONTEXT_CHARS
    max_chars: Annotated[int, msgspec.Meta(ge=1, le=2_000_000, description="Without offsets: the document's first "
                                                                           "max_chars characters at most.")] = MAX_DOCUMENT_CHARS


class DocumentView(msgspec.Struct):
    doc_id: str
    title: str
    length: int  # characters in the whole document
    text: str  # the document, or the window around start..end
    text_start: int  # where ``text`` starts in the document
    truncated: bool  # the whole document was asked for and ``text`` is only its first max_chars characters
    start: int | None = None
    end: int | None = None
    quote: str | None = None  # document.text[start:end]
    metadata: dict[str, Any] = {}  # the document's other fields (date, source, URL, ... where it has them)


class WriteArgs(msgspec.Struct, forbid_unknown_fields=True):
    documents: Annotated[list[dict[str, Any]], msgspec.Meta(
        min_length=1, description='Articles to add or replace: {"id", "title"?, "text", ...} each, as POST '
                                  '/api/documents takes them.')]


class DeleteArgs(msgspec.Struct, forbid_unknown_fields=True):
    doc_id: Annotated[str, msgspec.Meta(min_length=1, description="The id of the document to delete.")]


def json_schema(struct: type, described: bool = False) -> dict[str, Any]:
    """``struct``'s JSON schema with its own definition at the top (tools need ``"type": "object"`` there)."""
    schema = msgspec.json.schema(struct)
    defs = schema.pop("$defs", {})
    root = dict(defs.pop(schema["$ref"].rsplit("/", 1)[1]))
    root.pop("title", None)
    if defs:
        root["$defs"] = defs
    if described:
        root["additionalProperties"] = False
        for name, prop in root["properties"].items():
            inner = [d for d in prop.get("anyOf", ()) if "description" in d]  # ``X | None``: hoisted to the top
            if inner and "description" not in prop:
                prop["description"] = inner[0].pop("description")
            if "description" not in prop:
                prop["description"] = ARGUMENT_HELP.get(name, f"`{name}`: a field of POST /api/ask, passed as is.")
    return root


def _convert(arguments: dict[str, Any], struct: type) -> Any:
    """The arguments checked against ``struct`` as the API checks a body: no unknown names, no coercion."""
    known = set(struct.__struct_encode_fields__)
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise ArgumentProblem(f"unknown argument(s) {', '.join(unknown)}; this tool takes {', '.join(sorted(known))}")
    try:
        return msgspec.convert(arguments, struct, strict=True)
    except msgspec.ValidationError as e:
        raise ArgumentProblem(str(e)) from None


# --- what the agent reads ---------------------------------------------------------------------------------


def _quoted(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _facts(values: dict[str, Any]) -> str:
    shown = [f"{k} {v}" for k in METADATA if (v := values.get(k)) not in (None, "")]
    return f"; {', '.join(shown)}" if shown else ""


def ask_text(response: AskResponse) -> str:
    if not response.answers:
        return (f"Not found in the articles. The articles this service holds do not answer the question "
                f"{_quoted(response.question)!r}; say so, and do not present another answer as coming from them.")
    lines = [f"{len(response.answers)} answer(s), best first; each is copied word for word from an article "
             "(document.text[start:end] is the quote):"]
    for n, a in enumerate(response.answers, 1):
        lines.append(f"{n}. \"{a.text}\" (score {a.score:.2f})")
        for c in a.citations:
            lines.append(f"   cited from document {c.doc_id!r}, \"{_quoted(c.title, 120)}\", characters {c.start}-{c.end}"
                         f"{_facts(_struct_metadata(c))}")
            s, e = c.start - c.passage_start, c.end - c.passage_start
            before, after = ("…" if s > 100 else ""), ("…" if e + 100 < len(c.passage) else "")
            lines.append(f"   in its passage: \"{before}{c.passage[max(0, s - 100):s]}[{c.passage[s:e]}]"
                         f"{c.passage[e:e + 100]}{after}\"")
    return "\n".join(lines)


def search_text(response: SearchResponse) -> str:
    if not response.results:
        return f"No passage matches {_quoted(response.query)!r}."
    lines = [f"{len(response.results)} passage(s) for {_quoted(response.query)!r} ({response.mode}), best first:"]
    for n, r in enumerate(response.results, 1):
        lines.append(f"{n}. document {r.doc_id!r}, \"{_quoted(r.title, 120)}\", characters {r.start}-{r.end}, "
                     f"score {r.score:.3f}{_facts(_struct_metadata(r))}:\n   \"{_quoted(r.passage, 600)}\"")
    return "\n".join(lines)


def document_text(view: DocumentView) -> str:
    head = f"Document {view.doc_id!r}, \"{view.title}\", {view.length:,} characters{_facts(view.metadata)}."
    if view.quote is not None:
        s, e = view.start - view.text_start, view.end - view.text_start
        end = view.text_start + len(view.text)
        before, after = ("…" if view.text_start > 0 else ""), ("…" if end < view.length else "")
        return (f"{head}\nCharacters {view.start}-{view.end}: \"{view.quote}\"\nAround them (characters "
                f"{view.text_start}-{end}): \"{before}{view.text[:s]}[{view.text[s:e]}]{view.text[e:]}{after}\"")
    more = (f"\n[only the first {len(view.text):,} characters; ask with a larger max_chars, or with start and end]"
            if view.truncated else "")
    return f"{head}\n\n{view.text}{more}"


def _struct_metadata(value: msgspec.Struct) -> dict[str, Any]:
    return {k: getattr(value, k) for k in METADATA if k in value.__struct_fields__}


def _document_metadata(body: DocumentBody) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(body).items()
            if k not in ("doc_id", "title", "text") and v not in (None, "", [])}


# --- the tools --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    tool: types.Tool
    run: Callable[[dict[str, Any]], Awaitable[types.CallToolResult]]


def _result(text: str, value: msgspec.Struct | None) -> types.CallToolResult:
    structured = msgspec.to_builtins(value) if value is not None else None
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=structured)


def _problem(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def _tool(name: str, title: str, run: Callable[[dict[str, Any]], Awaitable[types.CallToolResult]], arguments: type,
          result: type | None, annotations: types.ToolAnnotations, description: str) -> ToolSpec:
    """A tool whose input schema is ``arguments``' and output schema ``result``'s (structs of the wire contract)."""
    return ToolSpec(types.Tool(name=name, title=title, description=description,
                               input_schema=json_schema(arguments, described=True),
                               output_schema=json_schema(result) if result is not None else None,
                               annotations=annotations), run)


class Tools:
    """The tools over one ``AsyncClient``; ``writes`` adds add_documents and delete_document."""

    def __init__(self, client: AsyncClient, writes: bool = False) -> None:
        self.client = client
        read_only = types.ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
        specs = [
            _tool("ask", "Ask the news articles", self.ask, AskRequest, AskResponse, read_only,
                  "Answer a question from the news articles the service holds. Each answer is a span copied word for "
                  "word from one article (`text`, the quote), with citations: doc_id, title and character offsets "
                  "start/end such that document.text[start:end] == text, and the passage around it. answers == [] "
                  "means the articles do not hold the answer: say so instead of guessing."),
            _tool("search", "Search the news articles", self.search, SearchArgs, SearchResponse, read_only,
                  "Passages of the articles that match a query, best first, with their document id, title, character "
                  "offsets and scores; for finding what the articles say about a topic (ask gives answers). mode: "
                  "hybrid (default), dense (meaning) or lexical (words)."),
            _tool("get_document", "Read an article, or check a quote", self.get_document, DocumentArgs, DocumentView,
                  read_only,
                  "One article by its id: the whole text (its first max_chars characters), or, given a citation's "
                  "start and end, the quote document.text[start:end] and the text around it. Use it to check a quote "
                  "or read its context."),
        ]
        if writes:
            write = dict(read_only_hint=False, destructive_hint=True, open_world_hint=False)
            specs += [
                _tool("add_documents", "Add or replace articles", self.add, WriteArgs, WriteResponse,
                      types.ToolAnnotations(idempotent_hint=True, **write),
                      "Add articles to the index, or replace those with the same id; a bad item is rejected with its "
                      "reason and the rest go in. Answers use them once this returns."),
                _tool("delete_document", "Delete an article", self.delete, DeleteArgs, None,
                      types.ToolAnnotations(idempotent_hint=False, **write),
                      "Delete one article from the index by its id."),
            ]
        self.specs = {s.tool.name: s for s in specs}

    async def call(self, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """Run a tool; whatever goes wrong comes back as a tool error that says what to do."""
        spec = self.specs.get(name)
        if spec is None:
            return _problem(f"There is no tool {name!r}; the tools are {', '.join(self.specs)}.")
        try:
            return await spec.run(dict(arguments or {}))
        except ArgumentProblem as e:
            return _problem(f"Bad arguments for {name}: {e}")
        except BadRequest as e:
            return _problem(f"The service refused the {name} request (400): {e.detail}")
        except NotFound as e:
            return _problem(f"{e.detail} (404). Document ids come from the citations of ask and search.")
        except ServiceBusy as e:
            later = f" Try again in {e.retry_after:g} s." if e.retry_after is not None else ""
            return _problem(f"The service could not answer now (503): {e.detail}.{later}")
        except (Unauthorized, WritesOff) as e:
            return _problem(f"The service refused the write ({e.status_code}): {e.detail}")
        except ApiError as e:
            return _problem(f"The service answered {e.status_code}: {e.detail}")
        except QAClientError as e:
            return _problem(f"The qa-news service did not answer: {e}")
        except Exception as e:  # a fault here must not end the session
            log.exception("tool %s failed", name)
            return _problem(f"The {name} tool failed ({type(e).__name__}: {e}).")

    async def ask(self, arguments: dict[str, Any]) -> types.CallToolResult:
        _convert(arguments, AskRequest)
        fields = {k: v for k, v in arguments.items() if k not in ("question", "top_k", "max_answers")}
        response = await self.client.ask(arguments["question"], top_k=arguments.get("top_k"),
                                         max_answers=arguments.get("max_answers"), **fields)
        return _result(ask_text(response), response)

    async def search(self, arguments: dict[str, Any]) -> types.CallToolResult:
        args = _convert(arguments, SearchArgs)
        filters = {k: v for k, v in arguments.items() if k not in ("query", "k", "mode")}
        response = await self.client.search(args.query, k=args.k, mode=args.mode, **filters)
        return _result(search_text(response), response)

    async def get_document(self, arguments: dict[str, Any]) -> types.CallToolResult:
        args = _convert(arguments, DocumentArgs)
        if (args.start is None) != (args.end is None):
            raise ArgumentProblem("give both start and end (a citation's offsets), or neither for the whole document")
        doc = await self.client.document(args.doc_id)
        length, meta = len(doc.text), _document_metadata(doc)
        if args.start is None:
            view = DocumentView(doc.doc_id, doc.title, length, doc.text[: args.max_chars], 0, length > args.max_chars,
                                metadata=meta)
        else:
            if not args.start <= args.end <= length:
                raise ArgumentProblem(f"start and end must satisfy 0 <= start <= end <= {length} (the length of "
                                      f"document {args.doc_id!r}); got {args.start} and {args.end}")
            lo, hi = max(0, args.start - args.context), min(length, args.end + args.context)
            view = DocumentView(doc.doc_id, doc.title, length, doc.text[lo:hi], lo, False, args.start, args.end,
                                doc.text[args.start : args.end], meta)
        return _result(document_text(view), view)

    async def add(self, arguments: dict[str, Any]) -> types.CallToolResult:
        args = _convert(arguments, WriteArgs)
        report = await self.client.add(args.documents)
        rejected = "; ".join(f"{r.id!r}: {r.reason}" for r in report.rejected)
        text = (f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
                f"rejected {len(report.rejected)}" + (f" ({rejected})" if rejected else ""))
        return _result(text, report)

    async def delete(self, arguments: dict[str, Any]) -> types.CallToolResult:
        args = _convert(arguments, DeleteArgs)
        await self.client.delete(args.doc_id)
        return _result(f"deleted {args.doc_id!r}", None)


def make_server(tools: Tools, version: str = "") -> Server:
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[s.tool for s in tools.specs.values()])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await tools.call(params.name, params.arguments)

    return Server("qa-news", version=version, title="qa-news: cited answers from news articles",
                  instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool,
                  get_tool_input_schema=lambda name: (s.tool.input_schema if (s := tools.specs.get(name)) else None))


# --- where the answers come from --------------------------------------------------------------------------


@asynccontextmanager
async def remote_client(url: str, token: str | None, timeout: float) -> AsyncIterator[AsyncClient]:
    """The HTTP API of a running server (``--url``)."""
    async with AsyncClient(url, token, timeout=timeout, retries=1, max_retry_wait=5.0) as client:
        yield client


@asynccontextmanager
async def local_client(settings: "Settings", pipeline: Any = None, timeout: float = 60.0) -> AsyncIterator[AsyncClient]:
    """The service's own app, loaded in this process, asked over an in-memory ASGI transport: the same routes,
    checks and admission control as ``qa serve``, with no port opened."""
    from qa.web.app import create_app

    app = create_app(settings, pipeline)
    token = settings.api_token.get_secret_value() if settings.api_token is not None else None
    async with app.lifespan():
        async with AsyncClient(f"http://{settings.served_hosts()[0]}", token, timeout=timeout, retries=1,
                               max_retry_wait=5.0, transport=httpx.ASGITransport(app=app)) as client:
            yield client


async def serve_stdio(client_context: Any, writes: bool, version: str = "") -> None:
    from mcp.server.stdio import stdio_server

    async with client_context as client:
        server = make_server(Tools(client, writes), version)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(client_context: Any, writes: bool, host: str, port: int, version: str = "") -> None:
    import uvicorn

    async with client_context as client:
        server = make_server(Tools(client, writes), version)
        app = server.streamable_http_app(host=host)
        print(f"MCP over streamable HTTP on http://{host}:{port}/mcp", file=sys.stderr, flush=True)
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).serve()
