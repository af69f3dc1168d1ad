"""Sentence embeddings under ONNX Runtime: the sentence-transformers model's encoder, mean pooling and
normalisation exported as one fused fp32 graph.

A question's embedding is on the path of every ``/api/ask``: inside the service (``bench/bench_stages.py``,
Xeon, 2 threads) the stage took 10.4 ms through sentence-transformers and 5.7 ms through this graph, with
vectors equal to 2e-7 and the same answers. Only the layout every packaged model here has is
exported (a BERT-style Transformer, mean pooling, then optionally Normalize); anything else is refused, and
``Embedder`` with runtime ``auto`` then stays with sentence-transformers.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from qa.onnx_cache import CachedGraph

SUPPORTED_MODEL_TYPES = ("bert",)  # what onnxruntime's transformer optimizer fuses as "bert"


def layout(model_dir: Path) -> dict:
    """What the graph must reproduce, read from the sentence-transformers files: the longest input and
    whether vectors are normalised. Raises ``ValueError`` for a layout it does not export."""
    model_dir = Path(model_dir)
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((model_dir / "modules.json").read_text())]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        config = json.loads((model_dir / "config.json").read_text())
        st = json.loads((model_dir / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a sentence-transformers model this graph exports ({model_dir}): {exc}") from None
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]) \
            or modes != ["pooling_mode_mean_tokens"] or config.get("model_type") not in SUPPORTED_MODEL_TYPES \
            or st.get("do_lower_case"):
        raise ValueError(f"the ONNX embedder exports BERT encoders with mean pooling only, not {model_dir}")
    return {"max_length": int(st.get("max_seq_length") or config.get("max_position_embeddings", 512)),
            "normalize": modules[2:] == ["Normalize"], "dim": int(config["hidden_size"])}


def export_pooled(model_dir: Path, out_path: Path) -> None:
    """Encoder, masked mean over the tokens and (if the model has it) L2 normalisation, as one fused graph."""
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    shape = layout(model_dir)
    # eager attention exports to the plain MatMul/Softmax pattern that the optimizer fuses
    encoder = AutoModel.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32,
                                        attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            vectors = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(vectors, dim=-1) if shape["normalize"] else vectors

    example = torch.ones((1, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(Pooled(encoder), (example, example, torch.zeros_like(example)), str(raw),
                              input_names=list(axes), output_names=["vectors"], dynamic_axes=axes | {"vectors": {0: "batch"}},
                              opset_version=17, dynamo=False)
        fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=encoder.config.num_attention_heads,
                                         hidden_size=encoder.config.hidden_size, opt_level=1)
        fused.save_model_to_file(str(out_path))


class OnnxSentenceEncoder:
    """Unit vectors (float32) for texts, in batches of similar length, from the cached graph."""

    def __init__(self, model_dir: Path, threads: int, cache_dir: Path | None = None) -> None:
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir)
        shape = layout(self.model_dir)
        self.max_length, self.dim = shape["max_length"], shape["dim"]
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        # a short run followed at once by other work (retrieval, the reader): its threads must not spin after it
        self._graph = CachedGraph(self.model_dir, "embedder", lambda path: export_pooled(self.model_dir, path),
                                  threads, cache_dir, spin=False)
        self.path = self._graph.path

    def encode(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
        starts = range(0, len(order), batch_size)
        if progress:  # an ingest's bar; a question (every /api/ask) makes none
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches")
        for b in starts:
            rows = order[b : b + batch_size]
            enc = self._tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="np")
            feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
            feed["token_type_ids"] = enc["token_type_ids"].astype(np.int64) if "token_type_ids" in enc \
                else np.zeros_like(feed["input_ids"])
            out[rows] = self._graph.run(feed)[0]
        return out
