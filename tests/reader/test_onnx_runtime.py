"""qa/reader/onnx_runtime.py: the reader under ONNX Runtime reads like the PyTorch one, and its exported
graph is cached safely (reused, rebuilt when damaged, never reused for other weights)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa.onnx_cache import cache_key
from qa.reader import onnx_runtime
from qa.reader.onnx_runtime import OnnxSpanModel, onnx_supported

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


def test_auto_runtime_is_onnx_on_a_cpu_reader_in_fp32_and_in_int8(tiny_reader_dir, tmp_path):
    auto = make_reader(tiny_reader_dir, dtype="float32", cache_dir=tmp_path)
    auto.warm_up()
    assert auto.runtime_used == "onnx" and not auto._model.int8
    int8 = make_reader(tiny_reader_dir, int8=True, cache_dir=tmp_path)
    int8.warm_up()
    assert int8.runtime_used == "onnx" and int8._model.int8 and not int8.bf16
    assert sorted(p.name.endswith("-int8.onnx") for p in tmp_path.iterdir()) == [False, True]  # one graph each
    torch_int8 = make_reader(tiny_reader_dir, int8=True, runtime="torch")
    torch_int8.warm_up()
    assert torch_int8.runtime_used == "torch"


def test_int8_onnx_reader_scores_close_to_the_fp32_one_and_quotes_exactly(tiny_reader_dir, tmp_path):
    """Quantisation moves the logits a little, never the offsets: every span is still the passage's own text."""
    fp32 = make_reader(tiny_reader_dir, max_length=64, stride=16, runtime="onnx", cache_dir=tmp_path)
    int8 = make_reader(tiny_reader_dir, max_length=64, stride=16, runtime="onnx", int8=True, cache_dir=tmp_path)
    int8.warm_up()
    batch = fp32.encode(["When does the decree take effect?"] * len(PASSAGES), PASSAGES)
    padded = fp32._tokenizer.pad({k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")},
                                 return_tensors="np")
    a = np.concatenate(fp32._model(padded))
    b = np.concatenate(int8._model(padded))
    assert not np.array_equal(a, b)  # it is another graph
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95
    assert np.abs(a - b).max() < 0.25 * np.abs(a).max()
    for spans in int8.read("When does the decree take effect?", PASSAGES, top_n=3):
        for s in spans:
            assert PASSAGES[s.passage_index][s.start : s.end] == s.text


def test_onnx_runtime_refuses_what_it_cannot_run(tiny_reader_dir, tmp_path):
    with pytest.raises(ValueError, match="use auto, torch or onnx"):
        make_reader(tiny_reader_dir, runtime="tensorrt")
    for kwargs in ({"device": "cuda"}, {"dtype": "bfloat16"}):
        with pytest.raises(ValueError, match="fp32 or int8 on the CPU"):
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
