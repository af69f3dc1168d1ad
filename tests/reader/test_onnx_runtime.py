"""qa/reader/onnx_runtime.py: the reader under ONNX Runtime reads like the PyTorch one, and its exported
graph is cached safely (reused, rebuilt when damaged, never reused for other weights)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa.reader import onnx_runtime
from qa.reader.onnx_runtime import OnnxSpanModel, cache_key, onnx_supported

from conftest import make_reader

PASSAGES = [
    "The conference was held in Vinh city on April 24 by the Office of Military Region 4.",
    "Short one.",
    "The new decree takes effect on 1 July. " * 12,  # long enough to overflow into several windows
]


def test_onnx_reader_gives_the_torch_readers_scores_on_padded_batches(tiny_reader_dir, tmp_path):
    """Same spans and scores from both runtimes, over passages of very different lengths (padding, overflow)."""
    torch_reader = make_reader(tiny_reader_dir, max_length=64, stride=16, runtime="torch", dtype="float32")
    onnx_reader = make_reader(tiny_reader_dir, max_length=64, stride=16, runtime="onnx", cache_dir=tmp_path)
    a = torch_reader.read("When does the decree take effect?", PASSAGES, top_n=3)
    b = onnx_reader.read("When does the decree take effect?", PASSAGES, top_n=3)
    assert torch_reader.runtime_used == "torch" and onnx_reader.runtime_used == "onnx"
    for spans_a, spans_b in zip(a, b, strict=True):
        assert len(spans_a) == len(spans_b) > 0
        np.testing.assert_allclose([s.span_score for s in spans_a], [s.span_score for s in spans_b], atol=1e-4)
        np.testing.assert_allclose([s.null_score for s in spans_a], [s.null_score for s in spans_b], atol=1e-4)
        for s in spans_b:
            assert PASSAGES[s.passage_index][s.start : s.end] == s.text


def test_auto_runtime_is_onnx_on_an_fp32_cpu_reader_and_torch_for_int8(tiny_reader_dir, tmp_path):
    auto = make_reader(tiny_reader_dir, dtype="float32", cache_dir=tmp_path)
    auto.warm_up()
    assert auto.runtime_used == "onnx"
    int8 = make_reader(tiny_reader_dir, int8=True)
    int8.warm_up()
    assert int8.runtime_used == "torch"


def test_onnx_runtime_refuses_what_it_cannot_run(tiny_reader_dir, tmp_path):
    with pytest.raises(ValueError, match="use auto, torch or onnx"):
        make_reader(tiny_reader_dir, runtime="tensorrt")
    for kwargs in ({"int8": True}, {"device": "cuda"}, {"dtype": "bfloat16"}):
        with pytest.raises(ValueError, match="fp32 on the CPU"):
            make_reader(tiny_reader_dir, runtime="onnx", **kwargs)
    other = tmp_path / "mpnet"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "mpnet"}))
    assert not onnx_supported(other) and onnx_supported(tiny_reader_dir)
    with pytest.raises(ValueError, match="BERT-style"):
        OnnxSpanModel(other, threads=1, cache_dir=tmp_path)


def test_cached_graph_is_reused_and_a_damaged_one_rebuilt(tiny_reader_dir, tmp_path, monkeypatch):
    first = OnnxSpanModel(tiny_reader_dir, threads=1, cache_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no partial files left behind
    batch = {"input_ids": np.array([[101, 2073, 102, 3000, 102]]), "attention_mask": np.ones((1, 5), int),
             "token_type_ids": np.array([[0, 0, 0, 1, 1]])}
    expected = first(batch)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the graph is cached")

    monkeypatch.setattr(onnx_runtime, "export_fused", no_export)
    np.testing.assert_allclose(OnnxSpanModel(tiny_reader_dir, threads=1, cache_dir=tmp_path)(batch)[0], expected[0])

    monkeypatch.undo()
    first.path.write_bytes(b"half a graph")  # e.g. a disk that filled up
    rebuilt = OnnxSpanModel(tiny_reader_dir, threads=1, cache_dir=tmp_path)
    np.testing.assert_allclose(rebuilt(batch)[0], expected[0], atol=1e-6)


def test_cache_key_changes_with_the_weights(tiny_reader_dir, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(tiny_reader_dir, copy)
    assert cache_key(copy) == cache_key(tiny_reader_dir)
    weights = load_file(copy / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + torch.ones_like(weights[name])
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    assert cache_key(copy) != cache_key(tiny_reader_dir)


def test_an_unwritable_cache_folder_still_gives_a_working_reader(tiny_reader_dir, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("a file where the cache folder should be")
    model = OnnxSpanModel(tiny_reader_dir, threads=1, cache_dir=blocked / "cache")
    starts, ends = model({"input_ids": np.array([[101, 2073, 102]]), "attention_mask": np.ones((1, 3), int)})
    assert starts.shape == ends.shape == (1, 3)
    assert blocked.read_text().startswith("a file")


def test_auto_falls_back_to_torch_when_the_graph_cannot_be_built_and_onnx_says_why(tiny_reader_dir, tmp_path,
                                                                                   monkeypatch):
    def broken_export(model_dir, out_path):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(onnx_runtime, "export_fused", broken_export)
    auto = make_reader(tiny_reader_dir, dtype="float32", cache_dir=tmp_path)
    assert auto.read("Where?", PASSAGES[:1])[0]  # still answers, with PyTorch
    assert auto.runtime_used == "torch"
    with pytest.raises(RuntimeError, match="exporter broke"):
        make_reader(tiny_reader_dir, runtime="onnx", cache_dir=tmp_path).warm_up()
    assert list(tmp_path.iterdir()) == []  # no half-written graph left in the cache
