"""``qa_config.json``, our settings beside a reader's weights (its version, its tuned no-answer policy and
threshold, its held-out figures, how it was trained): the one module that reads and writes it."""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "qa_config.json"


def read(model_dir: Path) -> dict:
    path = Path(model_dir) / FILE
    return json.loads(path.read_text()) if path.exists() else {}


def write(model_dir: Path, config: dict) -> Path:
    """Replace the file whole, so a failed write never leaves half a config beside the weights."""
    path = Path(model_dir) / FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2))
    os.replace(tmp, path)
    return path


def update(model_dir: Path, changes: dict) -> Path:
    return write(model_dir, {**read(model_dir), **changes})


def no_answer_threshold(config: dict, override: float | None) -> float:
    """The plain margin threshold a reader decides with: the override where one is set, else the tuned one."""
    return override if override is not None else float(config.get("no_answer_threshold", 0.0))


def version(config: dict) -> str | None:
    """The reader's version as its config names it (``"v17"``, set by ``qa reader export --version``); None for
    weights that name none, such as a training run's own folder."""
    value = config.get("version")
    return str(value) if value is not None else None
