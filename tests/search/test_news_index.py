"""Where and when each article was published, in the index: metadata kept in snapshots, a URL naming
its document, identical texts stored once, and the date and source filter applied inside retrieval
(qa/search/ingest.py, store.py, filters.py, retriever.py)."""

import json

import pytest

from qa.corpus.documents import Document, Origin
from qa.search.filters import BadFilter, Filter
from qa.search.ingest import write
from qa.search.retriever import FusionParams, Retriever
from qa.search.store import PassageIndex
from qa.settings import Settings

from conftest import index_config

HARBOUR = "Harbour news\nThe new ferry to Co To island left Van Don port on March 3 with 240 passengers."


def _doc(doc_id, text, **meta):
    return Document(doc_id, text.split("\n")[0], text, **meta)


def test_metadata_and_pages_survive_a_snapshot_and_an_older_snapshot_still_loads(tmp_path, embedder):
    doc = _doc("a", HARBOUR + "\nPage two says more.", url="https://x.example/a", published="2024-03-03T08:00:00+07:00",
               source="Harbour Daily", author="T. Van", pages=(0, 94),
               other_sources=(Origin("https://y.example/a", "2024-03-04", "Coast Times"),))
    write(tmp_path, index_config(embedder), [doc, _doc("plain", "Plain\nNo metadata here.")])
    loaded = PassageIndex.load(tmp_path)
    assert loaded.documents["a"] == doc and loaded.documents["a"].page_of(100) == 2
    snap = tmp_path / PassageIndex.current_name(tmp_path)
    assert json.loads((snap / "documents.jsonl").read_text().splitlines()[1]) == {
        "doc_id": "plain", "title": "Plain", "text": "Plain\nNo metadata here."}  # nothing written that is not there
    # a snapshot from before metadata: documents.jsonl lines with id, title and text only
    lines = [json.loads(x) for x in (snap / "documents.jsonl").read_text().splitlines()]
    (snap / "documents.jsonl").write_text("".join(json.dumps({k: d[k] for k in ("doc_id", "title", "text")}) + "\n"
                                                  for d in lines))
    old = PassageIndex.load(tmp_path).documents["a"]
    assert (old.url, old.published, old.source, old.author, old.pages) == (None, None, None, None, ())


def test_the_same_url_updates_its_document_and_a_metadata_change_embeds_nothing(tmp_path, embedder):
    config = index_config(embedder)
    write(tmp_path, config, [_doc("first-id", HARBOUR, url="https://x.example/ferry")])
    report, index = write(tmp_path, config, [_doc("other-id", HARBOUR.replace("240", "260"), url="https://x.example/ferry")])
    assert report.updated == ["first-id"] and report.added == [] and set(index.documents) == {"first-id"}
    assert "260 passengers" in index.documents["first-id"].text
    report, index = write(tmp_path, config, [_doc("first-id", HARBOUR.replace("240", "260"), url="https://x.example/ferry",
                                                   source="Harbour Daily")])
    assert report.updated == ["first-id"] and report.embedded_passages == report.embedded_sentences == 0
    assert index.documents["first-id"].source == "Harbour Daily"


def test_identical_texts_from_two_sources_are_stored_once_with_both_sources(tmp_path, embedder):
    config = index_config(embedder)
    one = _doc("one", HARBOUR, url="https://one.example/ferry", source="Harbour Daily", published="2024-03-03")
    two = _doc("two", HARBOUR, url="https://two.example/ferry", source="Coast Times", published="2024-03-04")
    report, index = write(tmp_path, config, [one, two])
    assert set(index.documents) == {"one"} and report.merged == [("two", "one")]
    kept = index.documents["one"]
    assert kept.url == one.url and kept.other_sources == (Origin(two.url, "2024-03-04", "Coast Times"),)
    assert len({p.text for p in index.passages}) == len(index.passages)  # its passages once
    report, _ = write(tmp_path, config, [two])  # the same copy again: nothing changes
    assert report.unchanged == ["one"] and not report.changed
    for where in (Filter.of(sources="coast times"), Filter.of(since="2024-03-04")):
        assert Retriever(index, embedder, FusionParams.from_settings(Settings())).search("ferry", 3, "hybrid", where)


def test_a_date_and_source_filter_reads_the_best_passages_inside_it_not_what_survives_an_unfiltered_top_k(
        tmp_path, embedder):
    config = index_config(embedder)
    story = "Ferry news\nThe ferry to Co To island carried {n} passengers from Van Don port on {day}."
    docs = [_doc("old-exact", story.format(n=240, day="March 3"), published="2019-03-03", source="Harbour Daily")]
    docs += [_doc(f"new-{i}", f"Port news {i}\nThe harbour office of Quang Ninh counted ships and {i} ferry trips "
                               f"this week; passengers waited at Van Don.", published=f"2024-0{i + 1}-01",
                  source="Coast Times" if i % 2 else "Harbour Daily") for i in range(4)]
    docs += [_doc("undated", story.format(n=250, day="March 4"))]
    _, index = write(tmp_path / "all", config, docs)
    retriever = Retriever(index, embedder, FusionParams.from_settings(Settings()))
    query = "How many passengers did the ferry to Co To island carry from Van Don?"
    for mode in ("hybrid", "dense", "lexical"):
        assert retriever.search(query, 1, mode)[0].passage.doc_id in ("old-exact", "undated"), mode
        where = Filter.of(since="2024-01-01", until="2024-03-31")
        inside = [d for d in docs if where.admits(d)]
        assert [d.doc_id for d in inside] == ["new-0", "new-1", "new-2"]
        hits = retriever.search(query, 2, mode, where)
        assert len(hits) == 2 and {h.passage.doc_id for h in hits} <= {d.doc_id for d in inside}, mode
        # the same passages as a search over an index that holds only those articles
        _, alone = write(tmp_path / f"inside-{mode}", config, inside)
        expected = Retriever(alone, embedder, FusionParams.from_settings(Settings())).search(query, 2, mode)
        assert [h.passage.text for h in hits] == [h.passage.text for h in expected], mode
        by_source = retriever.search(query, 5, mode, Filter.of(sources=["COAST TIMES"]))
        assert {h.passage.doc_id for h in by_source} == {"new-1", "new-3"}, mode
    assert retriever.search(query, 5, "hybrid", Filter.of(since="2030-01-01")) == []
    # since after until: an empty range, so nothing is read (not an error)
    assert retriever.search(query, 5, "hybrid", Filter.of(since="2024-05-01", until="2024-04-01")) == []


@pytest.mark.parametrize("kwargs, reason", [
    ({"since": "2024-02-30"}, "since is not a date"), ({"until": "yesterday"}, "until is not a date"),
    ({"since": "20240101"}, "since is not a date"), ({"since": 2024}, "since must be a date as text"),
    ({"sources": [1]}, "source must be"),
])
def test_a_filter_that_is_not_one_says_why(kwargs, reason):
    with pytest.raises(BadFilter, match=reason):
        Filter.of(**kwargs)


def test_a_document_is_inside_a_range_by_the_day_its_publisher_printed():
    late = _doc("x", "T\nx", published="2024-03-31T23:30:00+07:00")  # 16:30 UTC: the 31st either way
    assert Filter.of(until="2024-03-31").admits(late) and not Filter.of(since="2024-04-01").admits(late)
    assert not Filter.of(since="2000-01-01").admits(_doc("y", "T\ny"))  # no date: outside any range
    assert not Filter() and Filter.of(sources=" ") == Filter()
