"""Dense, lexical and fused retrieval over the seed index, see qa/search/retriever.py."""

import pytest

import dataclasses

from qa.search.retriever import FusionParams, Retriever, fuse, mix_dense
from qa.search.store import PassageIndex
from qa.settings import Settings

FUSION = FusionParams.from_settings(Settings())


def fusion(**changes) -> FusionParams:
    return dataclasses.replace(FUSION, **changes)


@pytest.fixture(scope="module")
def retriever(seed_index_dir, embedder):
    return Retriever(PassageIndex.load(seed_index_dir), embedder, FUSION)


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


def test_lexical_side_prefers_the_passage_whose_one_sentence_holds_the_question_words(embedder):
    """Passage BM25 alone ranks the long passage that names the words apart first; the best-sentence
    share of the lexical score puts the passage where they meet in one sentence on top."""
    from qa.corpus.chunking import Chunking, chunk_documents
    from qa.corpus.documents import Document
    from conftest import LEXICAL
    from qa.search.ingest import build_index
    from qa.search.store import Manifest

    apart = ("The Political department met in Region 2 in May. The Commissar of the northern unit spoke. "
             "Military drills ended. The Region 2 Political school opened. The Commissar visited the Military school.")
    together = "Colonel Trinh Van Quyet is the Political Commissar of Military Region 2. He attended the meeting."
    docs = [Document("apart", "a", apart), Document("together", "t", together)]
    passages = chunk_documents(docs, Chunking(200, 0, 4000))
    idx = build_index(Manifest.of(embedder.name, embedder.dim, Chunking(200, 0, 4000), LEXICAL), docs, passages, embedder)
    q = "Who is the Political Commissar of Military Region 2?"
    passage_bm25, sentence_bm25 = idx.lexical.scores(q, 10)
    assert max(passage_bm25, key=passage_bm25.get) == 0 and idx.passages[0].doc_id == "apart"
    assert sentence_bm25[1] > sentence_bm25[0]
    passage_only = Retriever(idx, embedder, fusion(sentence_weight=0.0))
    assert passage_only.search(q, 1, "lexical")[0].passage.doc_id == "apart"
    mixed = Retriever(idx, embedder, fusion(sentence_weight=0.8))
    hits = mixed.search(q, 2, "lexical")
    assert hits[0].passage.doc_id == "together" and 0.0 < hits[1].score < hits[0].score <= 1.0


def test_one_character_words_count_so_region_2_is_not_region_4():
    """bm25s' own word pattern drops "2" and "4", which leaves the two regions' sentences alike; the
    configured pattern keeps them, so the question's number picks its own sentence."""
    from conftest import LEXICAL
    from qa.search.lexical import BM25, TWO_CHARACTER_WORDS

    texts = ["Major General Trinh Van Quyet is the Political Commissar of Military Region 2.",
             "Lieutenant General Tran Vo Dung is the Political Commissar of Military Region 4."]
    q = "Who is the Political Commissar of Military Region 4?"
    hits = BM25.build(texts, **LEXICAL).search(q, 2)
    assert hits[0][0] == 1 and hits[0][1] > hits[1][1]
    old = BM25.build(texts, **{**LEXICAL, "token_pattern": TWO_CHARACTER_WORDS}).search(q, 2)
    assert old[0][1] == old[1][1]  # what the number could not tell apart


def test_mix_dense_weighs_best_sentence_against_passage_cosine():
    ranked = mix_dense({0: 0.6, 1: 0.4}, {0: 0.6, 1: 0.9}, 0.7)
    assert dict(ranked) == pytest.approx({0: 0.6, 1: 0.3 * 0.4 + 0.7 * 0.9})
    assert [i for i, _ in ranked] == [1, 0]
    assert mix_dense({0: 0.6, 1: 0.4}, {}, 0.7) == [(0, 0.6), (1, 0.4)]  # no sentence vectors: passage cosine


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_dense_side_scores_match_brute_force_cosines(seed_index_dir, embedder, weight):
    """Weight 0 ranks by whole-passage cosine, weight 1 by the passage's best sentence; both must
    equal cosines computed here from scratch, for every passage returned."""
    from qa.corpus.chunking import sentence_spans

    idx = PassageIndex.load(seed_index_dir)
    q = "Which Lao provinces does the province maintain cooperation with?"
    qv = embedder.embed([q])[0]
    expected = {}
    for p in idx.passages:
        texts = [p.text] if weight == 0.0 else [p.text[s:e] for s, e in sentence_spans(p.text)]
        expected[p.passage_id] = float((embedder.embed(texts) @ qv).max())
    got = Retriever(idx, embedder, fusion(dense_sentence_weight=weight)).dense(q, 10)
    assert [i for i, _ in got] == sorted(expected, key=lambda i: -expected[i])[:10]
    assert [s for _, s in got] == pytest.approx([expected[i] for i, _ in got], abs=1e-4)
