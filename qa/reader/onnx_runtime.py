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
use and kept in a cache folder under a key made from the weights, the config and the library
versions, so a new reader or a new library gets a new graph and a stale one is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SUPPORTED_MODEL_TYPES = ("bert",)  # what onnxruntime's transformer optimizer fuses as "bert"


def onnx_supported(model_dir: Path) -> bool:
    """Whether the reader in ``model_dir`` is a BERT-style encoder the ONNX path can export and fuse."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return config.get("model_type") in SUPPORTED_MODEL_TYPES


def cache_key(model_dir: Path) -> str:
    """A digest of what decides the exported graph: weights, config and the exporting libraries."""
    import onnxruntime
    import torch
    import transformers

    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).glob("*.safetensors")) + [Path(model_dir) / "config.json"]:
        digest.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    digest.update(f"torch {torch.__version__} transformers {transformers.__version__} "
                  f"onnxruntime {onnxruntime.__version__}".encode())
    return digest.hexdigest()[:24]


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
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        self.int8 = int8
        if not onnx_supported(self.model_dir):
            raise ValueError(f"the ONNX reader runtime supports BERT-style readers only, not the one in {model_dir}")
        self._tmp = None
        if cache_dir is not None:
            try:
                Path(cache_dir).mkdir(parents=True, exist_ok=True)
                if not os.access(cache_dir, os.W_OK):
                    raise PermissionError(f"{cache_dir} is not writable")
            except OSError as exc:  # e.g. a read-only install: still serve, exporting once per process
                log.warning("reader graph cache unavailable (%s); exporting for this process only", exc)
                cache_dir = None
        if cache_dir is None:  # no cache: a graph for this process only
            self._tmp = tempfile.TemporaryDirectory(prefix="qa-reader-onnx-")
            cache_dir = self._tmp.name
        cache_dir = Path(cache_dir)
        self.path = cache_dir / f"reader-{cache_key(self.model_dir)}{'-int8' if int8 else ''}.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        if self.path.exists():
            try:
                self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
                return
            except Exception as exc:  # a damaged cache file (e.g. a full disk): build it again
                log.warning("rebuilding the cached reader graph %s: %s", self.path, exc)
        self._export()
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def _export(self) -> None:
        log.info("exporting the reader to ONNX (once per weights): %s", self.path)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        fp32 = partial.with_name(f"{partial.name}.fp32")
        try:
            if self.int8:
                export_fused(self.model_dir, fp32)
                quantise_int8(fp32, partial)
            else:
                export_fused(self.model_dir, partial)
            os.replace(partial, self.path)  # whole file or none: concurrent starts never see half a graph
        finally:
            partial.unlink(missing_ok=True)
            fp32.unlink(missing_ok=True)

    def __call__(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        feed = {name: np.asarray(batch[name], dtype=np.int64) for name in INPUTS if name in batch}
        if "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        starts, ends = self._session.run(None, feed)
        return starts, ends
