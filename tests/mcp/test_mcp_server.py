"""``qa mcp`` driven through the official SDK's own client: over stdio (a ``qa mcp`` child process, answering
through a live ``qa serve`` with ``--url``, or from the index in its own process) and over streamable HTTP."""

import subprocess
import time
from contextlib import asynccontextmanager

import anyio
import httpx
import msgspec
import pytest
from mcp import Client, StdioServerParameters

from live_server import QA, TOKEN, closed_port, free_port, live_server, service_env

from qa.client import Client as HttpClient
from qa.web.schemas import AskRequest

QUESTION = "Where was the 2018 coordination conference held?"
READ_TOOLS = {"ask", "search", "get_document"}


@pytest.fixture(scope="module")
def base(tmp_path_factory, seed_index_dir, tiny_reader_dir):
    with live_server(tmp_path_factory, seed_index_dir, tiny_reader_dir) as url:
        yield url


@pytest.fixture(scope="module")
def env(seed_index_dir, tiny_reader_dir):
    return service_env(seed_index_dir, tiny_reader_dir)


@asynccontextmanager
async def stdio(env: dict, *args: str):
    params = StdioServerParameters(command=QA, args=["mcp", *args], env=env)
    async with Client(params, read_timeout_seconds=600) as client:  # without --url it loads the models first
        yield client


def run(session, check) -> None:
    """``check(client)`` in a session of ``session`` (an async context manager), in a fresh event loop."""
    async def main():
        async with session as client:
            await check(client)

    anyio.run(main)


def _without_time(value: dict) -> dict:
    return {k: v for k, v in value.items() if k != "took_ms"}


def test_the_tools_are_listed_with_schemas_an_agent_can_act_on(base, env):
    async def check(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == READ_TOOLS  # no write tools without --allow-writes and a token
        for t in tools.values():
            schema = t.input_schema
            assert schema["type"] == "object" and schema["additionalProperties"] is False
            assert all(p.get("description") for p in schema["properties"].values()), t.name
            assert t.output_schema["type"] == "object" and len(t.description) > 80
            assert t.annotations.read_only_hint is True
        ask = tools["ask"].input_schema
        assert ask["required"] == ["question"] and set(ask["properties"]) == set(AskRequest.__struct_fields__)
        assert ask["properties"]["top_k"]["anyOf"][0]["maximum"] == 50
        assert "not hold" in tools["ask"].description
        assert {"question", "answers"} <= set(tools["ask"].output_schema["properties"])
        assert tools["search"].input_schema["required"] == ["query"]
        assert tools["get_document"].input_schema["required"] == ["doc_id"]

    run(stdio(env, "--url", base), check)


def test_python_and_an_mcp_client_get_the_answer_and_citation_of_post_api_ask(base, env):
    raw = httpx.post(base + "/api/ask", json={"question": QUESTION, "top_k": 3}, timeout=30).json()
    assert raw["answers"]
    with HttpClient(base) as qa:
        assert _without_time(msgspec.to_builtins(qa.ask(QUESTION, top_k=3))) == _without_time(raw)
        documents = {c["doc_id"]: qa.document(c["doc_id"]).text for a in raw["answers"] for c in a["citations"]}

    async def check(client):
        result = await client.call_tool("ask", {"question": QUESTION, "top_k": 3})
        assert not result.is_error
        assert _without_time(result.structured_content) == _without_time(raw)
        text = result.content[0].text
        for a in raw["answers"]:
            for c in a["citations"]:
                assert documents[c["doc_id"]][c["start"] : c["end"]] == a["text"]  # a valid quote
                assert f'"{a["text"]}"' in text and c["doc_id"] in text and f"characters {c['start']}-{c['end']}" in text
                shown = await client.call_tool("get_document", {"doc_id": c["doc_id"], "start": c["start"],
                                                                "end": c["end"], "context": 50})
                view = shown.structured_content
                assert not shown.is_error and view["quote"] == a["text"]
                assert view["text"] == documents[c["doc_id"]][view["text_start"] : view["text_start"] + len(view["text"])]
                assert f'"{a["text"]}"' in shown.content[0].text

    run(stdio(env, "--url", base), check)


def test_search_and_whole_documents(base, env):
    raw = httpx.get(base + "/api/search", params={"q": "coordination conference", "k": 2, "mode": "lexical"}).json()

    async def check(client):
        found = await client.call_tool("search", {"query": "coordination conference", "k": 2, "mode": "lexical"})
        assert not found.is_error and _without_time(found.structured_content) == _without_time(raw)
        doc_id = raw["results"][0]["doc_id"]
        whole = await client.call_tool("get_document", {"doc_id": doc_id})
        text = httpx.get(f"{base}/api/documents/{doc_id}").json()["text"]
        assert whole.structured_content["text"] == text and whole.structured_content["truncated"] is False
        short = await client.call_tool("get_document", {"doc_id": doc_id, "max_chars": 100})
        assert short.structured_content["text"] == text[:100] and short.structured_content["truncated"] is True
        assert "only the first 100 characters" in short.content[0].text

    run(stdio(env, "--url", base), check)


BAD_CALLS = [
    ("ask", {}, "question"),
    ("ask", {"question": ""}, "question"),
    ("ask", {"question": "   "}, "question"),
    ("ask", {"question": "x" * 1001}, "question"),
    ("ask", {"question": QUESTION, "top_k": "5"}, "top_k"),
    ("ask", {"question": QUESTION, "top_k": 0}, "top_k"),
    ("ask", {"question": QUESTION, "max_answers": 21}, "max_answers"),
    ("ask", {"question": QUESTION, "topk": 3}, "unknown argument(s) topk"),
    ("search", {"query": ""}, "query"),
    ("search", {"query": "conference", "mode": "fuzzy"}, "mode"),
    ("search", {"query": "conference", "k": 51}, "k"),
    ("get_document", {}, "doc_id"),
    ("get_document", {"doc_id": "no-such-doc"}, "no document with id 'no-such-doc'"),
    ("get_document", {"doc_id": "no-such-doc", "start": 3}, "both start and end"),
    ("no_such_tool", {}, "There is no tool"),
]
if "since" in AskRequest.__struct_fields__:  # the service's own check of a filter: its 400, as a tool error
    BAD_CALLS.append(("ask", {"question": QUESTION, "since": "last tuesday"}, "since"))


def test_bad_arguments_are_tool_errors_and_the_session_goes_on(base, env):
    async def check(client):
        for tool, args, says in BAD_CALLS:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            assert says in result.content[0].text, (tool, args, result.content[0].text)
        doc_id = httpx.get(base + "/api/documents").json()[0]["doc_id"]
        out_of_range = await client.call_tool("get_document", {"doc_id": doc_id, "start": 0, "end": 10**9})
        assert out_of_range.is_error and "start <= end <=" in out_of_range.content[0].text
        answer = await client.call_tool("ask", {"question": QUESTION})  # still serving
        assert not answer.is_error and answer.structured_content["answers"]

    run(stdio(env, "--url", base), check)


def test_a_service_that_cannot_be_reached_is_a_tool_error(env):
    async def check(client):
        for tool, args in [("ask", {"question": QUESTION}), ("get_document", {"doc_id": "x"})]:
            result = await client.call_tool(tool, args)
            assert result.is_error and "did not answer" in result.content[0].text
            assert "cannot be reached" in result.content[0].text
        assert READ_TOOLS == {t.name for t in (await client.list_tools()).tools}

    run(stdio(env, "--url", f"http://127.0.0.1:{closed_port()}"), check)


def test_from_the_local_index_not_found_is_said_plainly(env, seed_index_dir):
    """Without --url: the app in the MCP server's own process. A reader that finds nothing: answers == [], and the
    text says the articles do not hold the answer."""
    silent = {**env, "QA_NO_ANSWER_THRESHOLD": "1e6"}

    async def check(client):
        assert READ_TOOLS == {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": "What is the capital of Peru?"})
        assert not result.is_error and result.structured_content["answers"] == []
        assert result.content[0].text.startswith("Not found in the articles.")
        found = await client.call_tool("search", {"query": "coordination conference", "k": 1})
        assert found.structured_content["results"][0]["passage"]

    run(stdio(silent, "--index", str(seed_index_dir)), check)


def test_writes_need_a_token_and_the_flag(base, env):
    r = subprocess.run([QA, "mcp", "--url", base, "--allow-writes"], env=env, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "token" in r.stderr and r.stdout == ""

    async def check(client):
        assert {t.name for t in (await client.list_tools()).tools} == READ_TOOLS | {"add_documents", "delete_document"}
        added = await client.call_tool("add_documents", {"documents": [
            {"id": "bridge", "title": "Bridge opens", "text": "The Rach Mieu 2 bridge opened to traffic on Friday."},
            {"id": "bad id", "text": "x"}]})
        assert not added.is_error and added.structured_content["added"] == ["bridge"]
        assert "rejected 1" in added.content[0].text
        assert (await client.call_tool("get_document", {"doc_id": "bridge"})).structured_content["title"] == "Bridge opens"
        assert not (await client.call_tool("delete_document", {"doc_id": "bridge"})).is_error
        gone = await client.call_tool("delete_document", {"doc_id": "bridge"})
        assert gone.is_error and "404" in gone.content[0].text
        assert (await client.call_tool("add_documents", {"documents": []})).is_error

    run(stdio(env, "--url", base, "--allow-writes", "--token", TOKEN), check)

    async def refused(client):
        result = await client.call_tool("add_documents", {"documents": [{"id": "x", "text": "y"}]})
        assert result.is_error and "401" in result.content[0].text

    run(stdio({**env, "QA_API_TOKEN": "wrong"}, "--url", base, "--allow-writes"), refused)


def test_over_streamable_http(base, env):
    port = free_port()
    proc = subprocess.Popen([QA, "mcp", "--http", "--port", str(port), "--url", base], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        raw = httpx.post(base + "/api/ask", json={"question": QUESTION}, timeout=30).json()

        async def check(client):
            assert READ_TOOLS == {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("ask", {"question": QUESTION})
            assert _without_time(result.structured_content) == _without_time(raw)

        run(Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120), check)
        # a page on another name (DNS rebinding) does not reach it
        r = httpx.post(f"http://127.0.0.1:{port}/mcp", headers={"Host": "evil.example", "Accept": "application/json"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert r.status_code in (400, 403, 421)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_search_takes_the_filters_that_get_api_search_takes(settings, pipeline):
    """The search tool's filters are AskRequest's fields beyond ASK_ONLY: each must be a parameter of GET
    /api/search, and each of its parameters beyond q, k and mode must be a filter of the tool."""
    from qa.mcp.server import SearchArgs
    from qa.web.app import create_app

    search = create_app(settings, pipeline).openapi_schema.paths["/api/search"].get
    assert {p.name for p in search.parameters} == set(SearchArgs.__struct_fields__) - {"query"} | {"q"}
