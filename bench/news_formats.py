"""The seed articles as news is published: web pages wrapped in a site's boilerplate (navigation, cookie
banner, related links, comments, footer), an RSS 2.0 feed, an Atom feed and one PDF. Used by
``bench_extraction.py``, the format tests and the check that every format answers the seed questions as
the ``.txt`` files do.

Each article gets made-up but fixed metadata (URL, date, author, site) so that tests can check that it
comes through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SITE = "Bao Quan Khu"
HOST = "https://news.example.org"


@dataclass(frozen=True)
class Article:
    stem: str  # the seed file's name without .txt
    title: str
    paragraphs: list[str]
    url: str
    published: str  # ISO 8601, +07:00
    author: str

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.paragraphs])


def seed_articles(seeds: Path = SEEDS) -> list[Article]:
    out = []
    for n, f in enumerate(sorted(seeds.glob("*.txt"))):
        lines = [line.strip() for line in f.read_text(encoding="utf-8").split("\n") if line.strip()]
        when = datetime(2023, 7, 10, 8, 30, tzinfo=timezone(timedelta(hours=7))) - timedelta(days=200 * n)
        out.append(Article(f.stem, lines[0], lines[1:], f"{HOST}/news/{f.stem}.html", when.isoformat(),
                           f"Reporter {chr(65 + n)}"))
    return out


NAVIGATION = ["Home", "Politics", "Military", "Economy", "Society", "Culture", "Sports", "World", "Video", "Podcasts"]
RELATED = ["Storm No. 3 makes landfall in Quang Ninh and Hai Phong, thousands evacuated",
           "Rice export prices rise for the third week in a row in the Mekong Delta",
           "Hanoi opens two new metro stations ahead of the national holiday",
           "National football team names squad for the Asian Cup qualifiers"]
COMMENTS = ["Great article, thank you to the reporters for the timely news!",
            "I hope the local authorities will keep supporting the people in the border villages.",
            "Very proud of the soldiers and militia of our province."]
COOKIES = ("We use cookies to give you the best experience on our website. By continuing to browse you agree to "
           "our use of cookies. Manage your preferences or accept all cookies.")
FOOTER = ("Copyright 2023 Bao Quan Khu. All rights reserved. Licence No. 123/GP-BTTTT. Editor-in-chief: Nguyen "
          "Van A. Address: 52 Quang Trung street, Vinh city. Hotline: 0238 3844 555.")


READ_MORE = "Read more: Border guards and fishermen join hands to protect the sea and islands of the homeland"


def boilerplate() -> list[str]:
    """The site's own text around (and inside) an article: what an extractor should drop."""
    return [COOKIES, *NAVIGATION, *RELATED, *COMMENTS, FOOTER, f"Comments ({len(COMMENTS)})", "Related news",
            "Photo: Le Minh", READ_MORE]


def _read_more(tag: str) -> str:
    """A link to another story in the middle of the article's text, as sites put them."""
    return f'<{tag} class="read-more"><b>Read more:</b> <a href="/news/more.html">{escape(READ_MORE[11:])}</a></{tag}>'



def news_page(a: Article, layout: str = "semantic") -> str:
    """An article as a news site serves it: metadata in the head, the article among boilerplate.
    ``layout``: "semantic" marks the parts with <nav>, <article>, <aside>, <footer>; "divs" is the same
    page built of <div>s alone, as many sites are (the extractor must tell the parts apart by their text)."""
    if layout == "divs":
        return _div_page(a)
    nav = "".join(f'<li><a href="/{escape(x.lower())}">{escape(x)}</a></li>' for x in NAVIGATION)
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in a.paragraphs[:2])
    rest = "\n".join(f"<p>{escape(p)}</p>" for p in a.paragraphs[2:])
    related = "".join(f'<li><a href="/news/r{i}.html">{escape(x)}</a></li>' for i, x in enumerate(RELATED))
    comments = "".join(f'<div class="comment"><p class="who">Reader {i}</p><p>{escape(x)}</p></div>'
                       for i, x in enumerate(COMMENTS))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(a.title)} | {SITE}</title>
<meta property="og:site_name" content="{SITE}">
<meta property="og:title" content="{escape(a.title)}">
<meta property="article:published_time" content="{a.published}">
<meta name="author" content="{escape(a.author)}">
<link rel="canonical" href="{a.url}">
<script>window.dataLayer = [{{"page": "article"}}];</script>
<style>.cookie {{ position: fixed; }}</style>
</head><body>
<div class="cookie-banner" id="cookie-consent"><p>{COOKIES}</p><button>Accept all</button></div>
<header><a class="logo" href="/">{SITE}</a><nav class="menu"><ul>{nav}</ul></nav>
<form class="search"><input name="q" placeholder="Search"></form></header>
<main><div class="breadcrumb"><a href="/">Home</a> &gt; <a href="/military">Military</a></div>
<article class="detail">
<h1 class="title">{escape(a.title)}</h1>
<div class="meta"><span class="author">{escape(a.author)}</span> <time datetime="{a.published}">{a.published[:10]}</time></div>
{paras}
<figure><img src="/img/{a.stem}.jpg" alt=""><figcaption>Photo: Le Minh</figcaption></figure>
{_read_more("p")}
{rest}
<div class="share">Share: Facebook Twitter Zalo</div>
</article>
<aside class="related"><h3>Related news</h3><ul>{related}</ul></aside>
<section class="comments"><h3>Comments ({len(COMMENTS)})</h3>{comments}</section>
</main>
<footer><p>{FOOTER}</p></footer>
</body></html>
"""


def _div_page(a: Article) -> str:
    nav = "".join(f'<div class="item"><a href="/{escape(x.lower())}">{escape(x)}</a></div>' for x in NAVIGATION)
    paras = "\n".join(f'<div class="para">{escape(p)}</div>' for p in a.paragraphs[:2]) + _read_more("div") + "\n".join(
        f'<div class="para">{escape(p)}</div>' for p in a.paragraphs[2:])
    related = "".join(f'<div class="rel"><a href="/news/r{i}.html">{escape(x)}</a></div>' for i, x in enumerate(RELATED))
    comments = "".join(f'<div class="cmt"><div class="who">Reader {i}</div><div>{escape(x)}</div></div>'
                       for i, x in enumerate(COMMENTS))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{escape(a.title)} - {SITE}</title>
<meta property="og:site_name" content="{SITE}"><meta property="article:published_time" content="{a.published}">
<meta name="author" content="{escape(a.author)}"><link rel="canonical" href="{a.url}"></head>
<body><div class="wrap"><div class="cookies">{COOKIES}</div>
<div class="top"><div class="logo"><a href="/">{SITE}</a></div><div class="menu">{nav}</div></div>
<div class="page"><div class="left"><div class="title">{escape(a.title)}</div>
<div class="info">{escape(a.author)} - {a.published[:10]}</div>
<div class="content">{paras}<div class="caption">Photo: Le Minh</div></div>
<div class="box-title">Related news</div><div class="related">{related}</div>
<div class="box-title">Comments ({len(COMMENTS)})</div><div class="comments">{comments}</div></div></div>
<div class="bottom">{FOOTER}</div></div></body></html>
"""


def _rfc822(iso: str) -> str:
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(iso))


def rss_feed(articles: list[Article], full: bool = True) -> str:
    """An RSS 2.0 feed; ``full``: each item carries the whole article (content:encoded), else a summary only."""
    items = []
    for a in articles:
        body = "".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        content = f"<content:encoded><![CDATA[{body}]]></content:encoded>" if full else ""
        items.append(f"""<item><title>{escape(a.title)}</title><link>{a.url}</link><guid>{a.url}</guid>
<pubDate>{_rfc822(a.published)}</pubDate><dc:creator>{escape(a.author)}</dc:creator>
<description>{escape(a.paragraphs[0])}</description>{content}</item>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{SITE}</title><link>{HOST}/</link><description>Military news</description>
{"".join(items)}
</channel></rss>
"""


def atom_feed(articles: list[Article]) -> str:
    entries = []
    for a in articles:
        body = "".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        entries.append(f"""<entry><title>{escape(a.title)}</title><link href="{a.url}"/><id>{a.url}</id>
<published>{a.published}</published><updated>{a.published}</updated><author><name>{escape(a.author)}</name></author>
<summary>{escape(a.paragraphs[0])}</summary><content type="html">{escape(body)}</content></entry>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{SITE}</title><link href="{HOST}/"/><id>{HOST}/</id>
<updated>{articles[0].published if articles else "2023-07-10T08:30:00+07:00"}</updated>
{"".join(entries)}
</feed>
"""


def _font() -> str:
    """A TrueType font with Vietnamese letters (Đ): DejaVu Sans as matplotlib ships it (the train extra)."""
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")


def pdf_of(articles: list[Article], title: str = "Military news digest", author: str = SITE) -> bytes:
    """One PDF holding the articles one after another (justified text, pages breaking inside paragraphs),
    with a title, an author and a creation date in its document information."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creation_date(datetime(2023, 7, 12, 9, 0, tzinfo=timezone.utc))
    pdf.add_font("dejavu", fname=_font())
    pdf.add_page()
    for a in articles:
        pdf.set_font("dejavu", size=14)
        pdf.multi_cell(0, 8, a.title)
        pdf.ln(4)
        pdf.set_font("dejavu", size=11)
        for p in a.paragraphs:
            pdf.multi_cell(0, 6, p, align="J")
            pdf.ln(3)
        pdf.ln(6)
    return bytes(pdf.output())


def scanned_pdf() -> bytes:
    """A PDF whose page holds only a drawing, no text: what a scan without OCR looks like to a reader."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def write_formats(folder: Path, articles: list[Article] | None = None) -> dict[str, Path]:
    """The seed articles in every format under ``folder``: ``pages/`` (one .html each), ``rss.xml``,
    ``atom.xml``, ``digest.pdf``. Returns where each went."""
    articles = articles or seed_articles()
    (folder / "pages").mkdir(parents=True, exist_ok=True)
    for a in articles:
        (folder / "pages" / f"{a.stem}.html").write_text(news_page(a), encoding="utf-8")
    (folder / "rss.xml").write_text(rss_feed(articles), encoding="utf-8")
    (folder / "atom.xml").write_text(atom_feed(articles), encoding="utf-8")
    (folder / "digest.pdf").write_bytes(pdf_of(articles))
    return {"pages": folder / "pages", "rss": folder / "rss.xml", "atom": folder / "atom.xml",
            "pdf": folder / "digest.pdf"}


if __name__ == "__main__":
    import sys

    for name, path in write_formats(Path(sys.argv[1] if len(sys.argv) > 1 else "news-formats")).items():
        print(name, path)
