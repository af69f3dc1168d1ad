"""The packaged all-MiniLM-L6-v2 embedder, see qa/search/embedding.py."""

import numpy as np


def test_embeddings_are_normalised_and_meaningful(embedder):
    vecs = embedder.embed(["The conference was held in Vinh city.", "A meeting took place in Vinh.", "Bananas are yellow."])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]  # paraphrases are closer than unrelated text


def test_empty_input_gives_empty_matrix(embedder):
    assert embedder.embed([]).shape == (0, 384)
