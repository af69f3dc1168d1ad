"""The reader's span model under ONNX Runtime: the same fp32 network, run by fused CPU kernels.

On CPUs without bf16 kernels, PyTorch runs the reader in plain fp32. ONNX Runtime runs the very same
weights faster once its transformer optimizer has fused each layer's attention, GELU and
layer norms (49-53 against 62-69 ms per 256-token window on 2 threads of a CPU without bf16 kernels, measured
with bench/bench_reader.py --runtime torch onnx; logits agree to 1e-5).

With ``int8``, the fused graph's matrix products are dynamically quantised (int8 weights, activations
quantised per batch). Weights are stored unsigned (U8U8) because AVX2 CPUs without VNNI multiply u8 by s8
with an instruction that can saturate, and u8 by u8 cannot. Measured on a Xeon with AMX it was no faster
than the fp32 graph and lost no-answer accuracy, so it is not the default (docs/BENCHMARKS.md).

The shipped weights stay one fp16 safetensors file. The ONNX graph is exported from them on first
use and kept in a cache folder (``qa/onnx_cache.py``) under a key made from the weights, the config and
the library versions, so a new reader or a new library gets a new graph and a stale one is never used.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from qa.onnx_cache import CachedGraph

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SUPPORTED_MODEL_TYPES = ("bert",)  # what onnxruntime's transformer optimizer fuses as "bert"


def onnx_supported(model_dir: Path) -> bool:
    """Whether the reader in ``model_dir`` is a BERT-style encoder the ONNX path can export and fuse."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return config.get("model_type") in SUPPORTED_MODEL_TYPES


def export_fused(model_dir: Path, out_path: Path) -> None:
    """Export the span model to ONNX (fp32, dynamic batch and length) and fuse it for the CPU."""
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoModelForQuestionAnswering

    # Eager attention exports to the plain MatMul/Softmax pattern that the optimizer fuses.
    model = AutoModelForQuestionAnswering.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32, attn_implementation="eager").eval()

    class SpanLogits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    example = torch.ones((1, 16), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "start_logits", "end_logits")}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(SpanLogits(model), (example, example, torch.zeros_like(example)), str(raw),
                              input_names=list(INPUTS), output_names=["start_logits", "end_logits"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=model.config.num_attention_heads,
                                         hidden_size=model.config.hidden_size, opt_level=1)
        fused.save_model_to_file(str(out_path))


def quantise_int8(fused_path: Path, out_path: Path) -> None:
    """The fused graph with its matrix products dynamically quantised to int8 (weights u8, see above)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused ops (com.microsoft domain) defeat ONNX shape inference: their outputs are fp32 tensors
    quantize_dynamic(fused_path, out_path, weight_type=QuantType.QUInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


class OnnxSpanModel:
    """Start and end logits for padded batches of windows, from a cached fused ONNX graph (fp32, or int8
    with ``int8``)."""

    def __init__(self, model_dir: Path, threads: int, cache_dir: Path | None = None, int8: bool = False) -> None:
        self.model_dir = Path(model_dir)
        self.int8 = int8
        if not onnx_supported(self.model_dir):
            raise ValueError(f"the ONNX reader runtime supports BERT-style readers only, not the one in {model_dir}")
        self._graph = CachedGraph(self.model_dir, "reader", self._export, threads, cache_dir,
                                  variant="-int8" if int8 else "")
        self.path = self._graph.path

    def _export(self, path: Path) -> None:
        if self.int8:
            fp32 = path.with_name(f"{path.name}.fp32")
            export_fused(self.model_dir, fp32)
            quantise_int8(fp32, path)
        else:
            export_fused(self.model_dir, path)

    def __call__(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        feed = {name: np.asarray(batch[name], dtype=np.int64) for name in INPUTS if name in batch}
        if "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        starts, ends = self._graph.run(feed)
        return starts, ends
