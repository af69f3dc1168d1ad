"""What every ``qa`` command shares: settings from the environment with flags on top, one way to turn a
problem into a message and an exit code, and quiet libraries."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from qa.errors import UserProblem
from qa.settings import Settings

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="index folder (QA_INDEX_DIR)")]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """A problem the user can act on (no index, no reader, a missing file) ends the command with its message."""
    try:
        yield
    except (UserProblem, FileNotFoundError) as e:
        fail(str(e))


def settings(**overrides) -> Settings:
    """The settings object from QA_* environment variables, with the given CLI flags on top."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])} (QA_{str(err['loc'][0]).upper()} or its flag): "
                             f"{err['msg']}" for err in e.errors())
        fail(f"bad setting: {problems}")


def require_files(paths: list[Path], what: str = "data file") -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(f"no such {what}: {', '.join(missing)}")


def quiet_libraries() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import bm25s  # noqa: F401  (it sets its own log level on import; quiet it after)

    for name in ("bm25s", "faiss", "faiss.loader", "sentence_transformers", "transformers", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
