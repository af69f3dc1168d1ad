"""Do the seed articles answer the seed questions as well when they come in as news is published?

Builds one index per format under ``--work`` (the ``.txt`` seeds; web pages with boilerplate; an RSS feed;
an Atom feed; one PDF, all made by news_formats.py) with the loader ``qa ingest`` uses, then asks every
gold question against each through the service's pipeline and reader (loaded once), as ``qa eval`` does:

    .venv/bin/python bench/check_news_formats.py [--gold eval/gold.jsonl] [--work DIR] [--formats txt,pages,...]

Prints, per format, F1 and EM, how many questions' F1 differ from the ``.txt`` index's, and the share of
answers whose citation carries the article's date, source and URL. The same figures for one format:
``qa ingest DIR/pages --index DIR/idx-pages`` then ``qa eval --gold eval/gold.jsonl --index DIR/idx-pages``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from news_formats import SEEDS, write_formats  # noqa: E402

from qa.answering.pipeline import AnswerPipeline  # noqa: E402
from qa.evaluation.end_to_end import evaluate_pipeline, load_gold  # noqa: E402
from qa.search.ingest import IndexConfig, ingest  # noqa: E402
from qa.search.store import PassageIndex  # noqa: E402
from qa.settings import REPO_ROOT, Settings  # noqa: E402

FORMATS = ("txt", "pages", "rss", "atom", "pdf")


class Recording:
    """The pipeline, keeping every result it gives (to look at the citations the evaluation saw)."""

    def __init__(self, pipeline: AnswerPipeline) -> None:
        self.pipeline, self.results = pipeline, []

    def ask(self, *args, **kwargs):
        result = self.pipeline.ask(*args, **kwargs)
        self.results.append(result)
        return result

    def __getattr__(self, name):
        return getattr(self.pipeline, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=REPO_ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--work", type=Path, help="where the formats and indexes go (default: a temporary folder)")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--out", type=Path, help="write the figures (and each format's rows) as JSON")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="news-formats-"))
    settings = Settings()
    paths = {"txt": SEEDS, **write_formats(work / "formats")}
    config = IndexConfig.from_settings(settings)
    pipeline = None
    gold = load_gold(args.gold)
    results: dict[str, dict] = {}
    for name in args.formats.split(","):
        index_dir = work / f"idx-{name}"
        report = ingest([paths[name]], index_dir, config, settings.max_document_bytes,
                        max_content_bytes=settings.max_content_bytes)
        if report.errors:
            raise SystemExit(f"{name}: {report.errors}")
        index = PassageIndex.load(index_dir)
        pipeline = (AnswerPipeline.from_settings(settings.model_copy(update={"index_dir": index_dir}))
                    if pipeline is None else pipeline.with_index(index))
        recorded = Recording(pipeline)
        result = evaluate_pipeline(recorded, gold)
        tops = [r.answers[0].citations[0] for r in recorded.results if r.answers and r.answers[0].citations]
        dated = sum(bool(c.published and c.source and c.url) for c in tops)
        results[name] = {"documents": len(index.documents), "f1": result["f1"], "exact": result["exact"],
                         "HasAns_f1": result["HasAns_f1"], "no_answer_accuracy": result["no_answer_accuracy"],
                         "citation_validity": result["citation_validity"], "cited_with_date_source_url": dated,
                         "answers": len(tops), "rows": {r["id"]: r["f1"] for r in result["rows"]}}
        print(f"{name}: {len(index.documents)} documents, F1 {result['f1']:.1f}, EM {result['exact']:.1f}, "
              f"citations valid {result['citation_validity']:.1f}%, answers citing date+source+URL {dated}/{len(tops)}",
              flush=True)
    base = results.get("txt")
    if base:
        for name, r in results.items():
            differ = [q for q, f1 in r["rows"].items() if abs(f1 - base["rows"][q]) > 1e-9]
            r["questions_differing_from_txt"] = differ
            print(f"{name}: F1 {r['f1']:.1f} vs txt {base['f1']:.1f}; {len(differ)} question(s) differ: {differ}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
