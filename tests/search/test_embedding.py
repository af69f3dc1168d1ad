"""The packaged all-MiniLM-L6-v2 embedder, see qa/search/embedding.py."""

import numpy as np


def test_embeddings_are_normalised_and_meaningful(embedder):
    vecs = embedder.embed(["The conference was held in Vinh city.", "A meeting took place in Vinh.", "Bananas are yellow."])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]  # paraphrases are closer than unrelated text


def test_empty_input_gives_empty_matrix(embedder):
    assert embedder.embed([]).shape == (0, 384)


def test_the_service_embeds_with_the_onnx_graph_and_its_vectors_are_sentence_transformers_own(embedder):
    """The embedder the service builds runs the fused graph; every text (short, long, past the model's 256
    tokens, in any order) gets the vector sentence-transformers gives it."""
    from qa.search.embedding import Embedder

    assert embedder.runtime_used == "onnx"
    texts = ["Who?", "Where was the 2018 coordination conference held?", "word " * 400,
             "The conference was held in Vinh city on April 24, chaired by the deputy commander."]
    plain = Embedder(embedder.model_path, embedder.name, batch_size=2, runtime="torch")
    np.testing.assert_allclose(embedder.embed(texts), plain.embed(texts), atol=1e-5)
    assert plain.runtime_used == "torch"


def test_the_graph_is_cached_and_auto_falls_back_to_sentence_transformers_when_it_cannot_be_built(
        embedder, tmp_path, monkeypatch):
    import pytest

    from qa.search import onnx_embedding
    from qa.search.embedding import Embedder

    def make(runtime):
        return Embedder(embedder.model_path, embedder.name, 8, runtime=runtime, threads=1, cache_dir=tmp_path)

    first = make("onnx")
    vec = first.embed(["Where was the conference held?"])
    assert [p.name for p in tmp_path.iterdir()] == [first._onnx.path.name]  # one whole graph, nothing partial

    def broken_export(model_dir, out_path):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(onnx_embedding, "export_pooled", broken_export)
    np.testing.assert_allclose(make("onnx").embed(["Where was the conference held?"]), vec)  # from the cache

    first._onnx.path.unlink()
    auto = make("auto")
    np.testing.assert_allclose(auto.embed(["Where was the conference held?"]), vec, atol=1e-5)
    assert auto.runtime_used == "torch"
    with pytest.raises(RuntimeError, match="exporter broke"):
        make("onnx").warm_up()
    assert list(tmp_path.iterdir()) == []  # no half-written graph left behind
    with pytest.raises(ValueError, match="use auto, torch or onnx"):
        make("tensorrt")


def test_a_model_layout_the_graph_does_not_reproduce_is_refused(embedder, tmp_path):
    import json
    import shutil

    import pytest

    from qa.search.onnx_embedding import layout

    assert layout(embedder.model_path) == {"max_length": 256, "normalize": True, "dim": 384}
    cls = tmp_path / "cls-pooled"
    shutil.copytree(embedder.model_path, cls)
    pooling = json.loads((cls / "1_Pooling" / "config.json").read_text())
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(
        pooling | {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    with pytest.raises(ValueError, match="mean pooling only"):
        layout(cls)
    with pytest.raises(ValueError, match="not a sentence-transformers model"):
        layout(tmp_path)
