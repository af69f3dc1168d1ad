"""Which service is running: the package's version, the one in pyproject.toml (bumped on each release, with
its entry in CHANGELOG.md). ``qa --version``, ``GET /health`` and ``/metrics`` report it beside the reader's
(``qa.reader.config.version``)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "qa-news"


@cache  # /health is polled: look the installed metadata up once per process
def service_version() -> str:
    """The version installed (``pip install -e .`` records pyproject.toml's; ./run.sh reinstalls after a bump)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "unknown"
