"""The package's layout: folders are the pipeline's stages, imports run one way, and the serving code
never loads training or evaluation code (see the README's "How a question flows")."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

QA = REPO / "qa"
# A module may import from its own stage and from stages below it, never from one above.
STAGES = {"settings": 0, "limits": 0, "errors": 0, "packaged": 0, "cluster": 0, "timing": 0, "version": 0, "onnx_cache": 0, "corpus": 1, "search": 2, "reader": 2, "answering": 3,
          "web": 4, "client": 5, "mcp": 6, "evaluation": 7, "training": 8, "cli": 9}
# client: the HTTP API from Python, over the wire types of web/schemas.py only; mcp: the API as MCP tools
SERVING = {"corpus", "search", "reader", "answering", "web", "client", "mcp"}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``qa.*`` module that ``path`` imports, at the top or inside a function (not for type checking only)."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("qa.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qa"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if (QA.parent / f"{node.module}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return out


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in QA.rglob("*.py")}


def _stage(module: str) -> str:
    return module.split(".")[1]


def test_every_module_belongs_to_a_stage():
    assert {_stage(m) for m in _graph() if m != "qa"} <= set(STAGES)


def test_imports_run_one_way_from_later_stages_to_earlier_ones():
    wrong = [(m, i) for m, imports in _graph().items() if m != "qa" for i in imports
             if STAGES[_stage(i)] > STAGES[_stage(m)]]
    assert wrong == []
    serving_to_offline = [(m, i) for m, imports in _graph().items() if m != "qa" and _stage(m) in SERVING
                          for i in imports if _stage(i) in {"evaluation", "training", "cli"}]
    assert serving_to_offline == []


def test_there_is_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for i in sorted(graph.get(m, ())):
            assert state.get(i) != 1, " -> ".join(path + [m, i])
            if i not in state:
                visit(i, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO,
                       env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                            "PYTHONPATH": str(REPO / "tests")})
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_serving_a_question_loads_no_training_evaluation_or_cli_code(seed_index_dir, tiny_reader_dir):
    out = _run(f"""
        import sys
        from litestar.testing import TestClient
        from qa.settings import Settings
        from qa.web.app import create_app

        settings = Settings(index_dir={str(seed_index_dir)!r}, reader_dir={str(tiny_reader_dir)!r}, reader_runtime="torch",
                            allowed_hosts=["testserver.local"])
        with TestClient(app=create_app(settings)) as client:  # the lifespan loads the models
            assert client.post("/api/ask", json={{"question": "Who attended?"}}).status_code == 200
            assert client.get("/api/search", params={{"q": "conference"}}).status_code == 200
        # nor Ray: it is an optional extra, loaded only for --ray
        print(sorted(m for m in sys.modules if m.startswith(("qa.training", "qa.evaluation", "qa.cli")) or m == "ray"))
    """)
    assert out.strip() == "[]"


def test_the_qa_command_loads_the_reader_commands_only_when_one_is_run():
    out = _run("""
        import sys
        from typer.testing import CliRunner
        from qa.cli.main import app

        assert CliRunner().invoke(app, ["ask", "--help"]).exit_code == 0
        print(sorted(m for m in sys.modules if m.startswith(("qa.training", "qa.evaluation"))))
        assert CliRunner().invoke(app, ["reader", "train", "--help"]).exit_code == 0
        print("qa.training.config" in sys.modules)
    """)
    assert out.split("\n")[:2] == ["[]", "True"]


def test_training_runs_where_only_torch_and_transformers_are_installed():
    """A lent GPU machine has torch, transformers, typer and tqdm but not the service's web stack: the
    training path (scripts/distill_pipeline.py) must import without it."""
    out = _run(f"""
        import importlib.abc, runpy, sys

        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"pydantic", "pydantic_settings", "litestar", "msgspec", "uvicorn", "faiss", "bm25s"}}:
                    raise ImportError(f"{{name}} is not installed here")

        sys.meta_path.insert(0, Absent())
        sys.argv = ["distill_pipeline.py", "--help"]
        try:
            runpy.run_path({str(REPO / "scripts" / "distill_pipeline.py")!r}, run_name="__main__")
        except SystemExit as e:
            assert e.code == 0
        import qa.training.train, qa.training.cloze, qa.evaluation.reader, qa.reader.extractive  # noqa: E401
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_training_windows_default_to_the_windows_the_service_reads():
    from qa.settings import Settings
    from qa.training.config import TrainConfig
    from qa.reader.windows import Windowing

    assert TrainConfig(data=[], out="").windowing == Windowing.from_settings(Settings())
    assert TrainConfig(data=[], out="").threads == Settings().threads
