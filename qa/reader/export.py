"""Package a trained reader for shipping: fp16 safetensors, tokenizer, and our qa_config.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from qa.reader.model import QA_CONFIG

STALE_WITH_NEW_WEIGHTS = ("no_answer_policy", "no_answer_policy_heldout", "no_answer_threshold", "heldout", "training")


def export(model_dir: Path, out: Path, extra_config: dict) -> Path:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.half().save_pretrained(tmp)
    tok.save_pretrained(tmp)
    cfg = {}
    if (out / QA_CONFIG).exists():
        cfg = json.loads((out / QA_CONFIG).read_text())
        # the no-answer policy was fitted to the old weights' scores: new weights need `qa reader calibrate`
        for key in STALE_WITH_NEW_WEIGHTS:
            cfg.pop(key, None)
    cfg.update(extra_config)
    (tmp / QA_CONFIG).write_text(json.dumps(cfg, indent=2))
    if (out / "README.md").exists():  # the model card is written by people: keep it
        shutil.copy(out / "README.md", tmp / "README.md")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
