"""schemathesis against the running app: generated requests for every operation of the OpenAPI schema,
every built-in check (no 5xx, status codes, content types and bodies as documented), bounded examples.
Writes are sent with the token, into a private copy of the seed index."""

import shutil
import socket
import threading
import time

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from pydantic import SecretStr

from qa.web.app import create_app

from conftest import make_pipeline, make_reader


@pytest.fixture(scope="module")
def api_schema(pipeline, settings, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(settings.index_dir, index_dir)
    served = settings.model_copy(update={"index_dir": index_dir, "api_token": SecretStr("fuzz")})
    from qa.search.store import PassageIndex

    p = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6),
                      top_k=3).with_index(PassageIndex.load(index_dir))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(served, p), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/schema/openapi.json")
    server.should_exit = True
    thread.join(timeout=10)


def test_the_api_keeps_its_schema_for_generated_requests(api_schema):
    """One Hypothesis run per operation (schemathesis's pytest plugin does not load under this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/ask", "/api/search", "/api/documents", "/api/documents/{doc_id}"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                             derandomize=True, database=None)
        def run(case):
            case.call_and_validate(headers={"Authorization": "Bearer fuzz"}, timeout=60)

        run()
