"""How well and how fast web pages are read into articles (qa/corpus/formats.py through the loader the
service uses): the seed articles wrapped in a news site's boilerplate (navigation, cookie banner, related
links, comments, image caption, footer; bench/news_formats.py), each read back as ``qa ingest`` and
``POST /api/documents`` read a page.

Reports, over the pages:
- kept: the share of each article's own words (scrape leftovers cleaned, as the .txt loader cleans them)
  found in what was extracted, counted as a multiset (a word twice in the article must be there twice);
- dropped: the share of the boilerplate pieces (each menu item, link, comment, banner, caption, footer)
  that do not appear in what was extracted;
- metadata: pages whose title, date, author, site and canonical URL all came through;
- pages per second on this machine (one process, one thread), by the clock and by CPU time (the second
  does not count time the process waited for a busy CPU).

Each article is wrapped twice: with the parts marked by HTML5 elements (<nav>, <article>, <aside>,
<footer>), and as <div>s alone, as many news sites build their pages.

    .venv/bin/python bench/bench_extraction.py [--repeat 20] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from news_formats import SITE, boilerplate, news_page, seed_articles  # noqa: E402

from qa.corpus.documents import clean_text, documents_from_content  # noqa: E402
from qa.settings import Settings  # noqa: E402

_WORD = re.compile(r"\w+")
LAYOUTS = ("semantic", "divs")  # the parts marked with HTML5 elements, or <div>s alone


def kept_share(article: str, extracted: str) -> float:
    want = Counter(_WORD.findall(article.lower()))
    got = Counter(_WORD.findall(extracted.lower()))
    return sum(min(n, got[w]) for w, n in want.items()) / max(1, sum(want.values()))


def dropped_share(pieces: list[str], extracted: str) -> float:
    lines = {line.strip() for line in extracted.split("\n")}
    present = [p for p in pieces if p in extracted and (len(p) > 20 or p in lines)]  # a menu word counts as its own line
    return 1 - len(present) / len(pieces)


def run(repeat: int) -> dict:
    max_bytes = Settings().max_document_bytes
    articles = seed_articles()
    pages = [(a, layout, news_page(a, layout).encode()) for layout in LAYOUTS for a in articles]
    per_page = []
    for a, layout, html in pages:
        [doc], _ = documents_from_content(html, "html", max_bytes)
        per_page.append({"page": a.stem, "layout": layout, "bytes": len(html),
                         "kept": kept_share(clean_text(a.text), doc.text),
                         "dropped": dropped_share(boilerplate(), doc.text),
                         "metadata": (doc.title, doc.published[:10] if doc.published else None, doc.author, doc.source,
                                      doc.url) == (a.title, a.published[:10], a.author, SITE, a.url)})
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for _, _, html in pages:
            documents_from_content(html, "html", max_bytes)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(per_page)
    by_layout = {layout: {"kept": sum(p["kept"] for p in per_page if p["layout"] == layout) / len(articles),
                          "dropped": sum(p["dropped"] for p in per_page if p["layout"] == layout) / len(articles)}
                 for layout in LAYOUTS}
    return {"pages": n, "by_layout": by_layout, "kept": sum(p["kept"] for p in per_page) / n, "kept_min": min(p["kept"] for p in per_page),
            "dropped": sum(p["dropped"] for p in per_page) / n, "dropped_min": min(p["dropped"] for p in per_page),
            "metadata_complete": sum(p["metadata"] for p in per_page), "pages_per_second": repeat * n / seconds,
            "pages_per_cpu_second": repeat * n / cpu,
            "timed_pages": repeat * n, "per_page": per_page}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=20, help="times each page is read for the speed figure")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args()
    result = run(args.repeat)
    print(f"{result['pages']} pages: article words kept {result['kept']:.1%} (lowest {result['kept_min']:.1%}), "
          f"boilerplate dropped {result['dropped']:.1%} (lowest {result['dropped_min']:.1%}), metadata complete on "
          f"{result['metadata_complete']}/{result['pages']}; {result['pages_per_second']:.1f} pages/s "
          f"({result['pages_per_cpu_second']:.1f} per CPU second; {result['timed_pages']} timed)")
    for layout, r in result["by_layout"].items():
        print(f"  {layout}: kept {r['kept']:.1%}, dropped {r['dropped']:.1%}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
