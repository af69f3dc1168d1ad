"""Dense, lexical and fused retrieval over the seed index, see qa/retrieval.py."""

import pytest

from qa.index import PassageIndex
from qa.retrieval import Retriever, fuse


@pytest.fixture(scope="module")
def retriever(seed_index_dir, embedder):
    return Retriever(PassageIndex.load(seed_index_dir), embedder)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_mode_finds_the_coordination_article(retriever, mode):
    hits = retriever.search("Where was the 2018 coordination conference held?", 3, mode)
    assert 1 <= len(hits) <= 3
    assert hits[0].passage.doc_id == "004_e78e7126cb0131b0"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_lexical_finds_exact_document_numbers(retriever):
    hits = retriever.search("Directive No. 747-CT/QUTW", 1, "lexical")
    assert "747-CT/QUTW" in hits[0].passage.text


def test_query_with_no_known_words_gives_no_lexical_hits(retriever):
    assert retriever.search("zzzqqq xxyyzz", 5, "lexical") == []
    assert len(retriever.search("zzzqqq xxyyzz", 5, "hybrid")) == 5  # dense still ranks something


def test_unknown_mode_is_refused(retriever):
    with pytest.raises(ValueError, match="mode"):
        retriever.search("x", 3, "sparse")


def test_fuse_weights_normalised_bm25_against_cosine():
    dense = {0: 0.9, 1: 0.5}
    lexical = {1: 10.0, 2: 5.0}
    ranked = fuse(dense, lexical, lexical_weight=0.5)
    scores = dict(ranked)
    assert scores[1] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    assert scores[0] == pytest.approx(0.5 * 0.9)
    assert scores[2] == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)  # unseen by dense: lowest dense score
    assert [i for i, _ in ranked] == [1, 2, 0]
    assert fuse({}, {}, 0.5) == []
