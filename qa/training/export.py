"""Package a trained reader for shipping: fp16 safetensors, tokenizer, and our qa_config.json."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.reader import config

# what describes the old weights only; "version" too, so new weights never go out under the old reader's name
STALE_WITH_NEW_WEIGHTS = ("version", "no_answer_policy", "no_answer_policy_heldout", "no_answer_threshold", "heldout",
                          "training")
WEIGHTS = "model.safetensors"


@contextmanager
def _replacing(out: Path) -> Iterator[Path]:
    """A fresh folder beside ``out`` to write into; it takes ``out``'s place only once the writing has finished,
    so a failure half-way leaves the old reader whole."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def export(model_dir: Path, out: Path, extra_config: dict) -> Path:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    with _replacing(out) as tmp:
        model.half().save_pretrained(tmp)
        tok.save_pretrained(tmp)
        # the no-answer policy was fitted to the old weights' scores: new weights need `qa reader calibrate`
        cfg = {k: v for k, v in config.read(out).items() if k not in STALE_WITH_NEW_WEIGHTS}
        config.write(tmp, {**cfg, **extra_config})
        if (out / "README.md").exists():  # the model card is written by people: keep it
            shutil.copy(out / "README.md", tmp / "README.md")
    return out


def average(folders: list[Path], out: Path) -> Path:
    """The element-wise mean of readers' weights (a "model soup"), saved in the first one's dtype with its config
    and tokenizer. It pays for readers trained from the same base on the same data with the same teacher (two such
    students averaged into v16's base), not for readers of different teachers (v12 with v14 lost 1-2 HasAns F1).
    ``training_config.json`` records where the weights came from."""
    import torch
    from safetensors.torch import load_file, save_file

    if len(folders) < 2:
        raise ValueError("averaging needs two or more readers")
    for folder in folders:
        if not (folder / WEIGHTS).is_file():
            raise ValueError(f"{folder} has no {WEIGHTS}")
    tensors = [load_file(folder / WEIGHTS) for folder in folders]
    first = tensors[0]
    for folder, other in zip(folders[1:], tensors[1:]):
        if other.keys() != first.keys() or any(other[k].shape != first[k].shape for k in first):
            raise ValueError(f"{folder} is not the same network as {folders[0]}")
    mean = {k: (sum(t[k].to(torch.float32) for t in tensors) / len(tensors)).to(first[k].dtype) for k in first}
    parents = [json.loads((f / "training_config.json").read_text()) if (f / "training_config.json").exists() else {}
               for f in folders]
    with _replacing(out) as tmp:
        for f in folders[0].iterdir():
            if f.is_file() and f.name not in (WEIGHTS, "training_config.json", config.FILE, "README.md"):
                shutil.copy(f, tmp / f.name)
        save_file(mean, tmp / WEIGHTS, metadata={"format": "pt"})
        (tmp / "training_config.json").write_text(json.dumps(
            {"averaged_from": [str(f) for f in folders], "parents": parents}, indent=2))
    return out
