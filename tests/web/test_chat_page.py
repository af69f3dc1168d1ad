"""The chat page in a real browser (Debian's headless Chromium driven by Playwright) against the real app
served by uvicorn, see qa/web/static/."""

import copy
import shutil
import socket
import threading
import time

import pytest
import uvicorn

from qa.answering.pipeline import AnswerPipeline
from qa.search.ingest import write
from qa.corpus.documents import make_document
from qa.web.app import create_app

from conftest import index_config, make_pipeline, make_reader

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's, installed by scripts/setup.sh
MARKUP = ('Markup test\nThe harbour office said <img src=x onerror="window.__pwned=1"> the pier reopened. '
          '<script>window.__pwned=2</script> Boats sailed at noon.')


class _SlowPipeline(AnswerPipeline):
    """Takes two seconds longer over every question, to watch the page while one is read (none is cached)."""

    def cached(self, *args, **kwargs):
        return None

    def ask(self, *args, **kwargs):
        time.sleep(2)
        return super().ask(*args, **kwargs)


def _serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="module")
def sites(pipeline, settings, embedder, tmp_path_factory):
    """Two servers over a copy of the seed index with an article full of markup: one answers everything
    (the tiny reader's spans are random but real), one says "not found" to everything."""
    index_dir = tmp_path_factory.mktemp("page") / "index"
    shutil.copytree(settings.index_dir, index_dir)
    lead = ("Heavy rain in the central provinces closed roads and schools on Monday while the authorities moved "
            "families from low-lying villages to shelters and warned that rivers would keep rising through the week")
    docs = [make_document("markup", MARKUP), make_document("lead", lead + ".\nMore rain is expected.")]
    _, index = write(index_dir, index_config(embedder), docs)
    base = settings.model_copy(update={"index_dir": index_dir})
    answering = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6),
                              top_k=3).with_index(index)
    silent = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=1e6)
                           ).with_index(index)
    slow = copy.copy(answering)
    slow.__class__ = _SlowPipeline
    servers = [_serve(create_app(base, answering)), _serve(create_app(base, silent)), _serve(create_app(base, slow))]
    yield {"answers": servers[0][0], "silent": servers[1][0], "slow": servers[2][0]}
    for _, server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()


def _ask(page, text: str) -> None:
    page.fill("#question", text)
    page.keyboard.press("Enter")


def test_ask_shows_the_answer_marked_and_opens_the_article_at_the_span(page, sites):
    page.goto(sites["answers"])
    _ask(page, "Where was the coordination conference held?")
    page.wait_for_selector(".msg.bot .answer")
    answer = page.inner_text(".answer-text").split("score")[0].strip()
    assert page.inner_text(".citation mark").strip() == answer
    page.click(".read-link")
    page.wait_for_selector("#reader:not([hidden]) #reader-text mark")
    assert page.inner_text("#reader-text mark").strip() == answer
    assert page.inner_text("#reader-title").strip()
    assert page.errors == []


def test_an_article_full_of_markup_stays_inert_text(page, sites):
    page.goto(sites["answers"])
    _ask(page, 'When did the boats sail? <img src=x onerror="window.__pwned=3"><b>bold</b>')
    page.wait_for_selector(".msg.bot")
    assert "<b>bold</b>" in page.inner_text(".msg.user") and page.query_selector(".msg.user b") is None
    page.goto(sites["answers"] + "/#doc=markup&start=0&end=11")
    page.wait_for_selector("#reader:not([hidden]) #reader-text mark")
    text = page.inner_text("#reader-text")
    assert "<script>window.__pwned=2</script>" in text and 'onerror="window.__pwned=1"' in text
    assert page.evaluate("window.__pwned") is None
    assert page.query_selector("#reader-text img") is None and page.query_selector("#reader-text script") is None


def test_not_found_shows_the_passages_the_articles_do_mention(page, sites):
    page.goto(sites["silent"])
    _ask(page, "Who commands Military Region 4?")
    page.wait_for_selector(".msg.none .closest-head")
    assert "Not found in the articles." in page.inner_text(".msg.none")
    assert len(page.query_selector_all(".msg.none .citation")) >= 1
    assert page.query_selector(".msg.none .read-link")


def test_a_busy_service_is_said_and_asked_once_more(page, sites):
    calls = []

    def busy_once(route):
        calls.append(route.request.url)
        if len(calls) == 1:
            route.fulfill(status=503, headers={"Retry-After": "0", "content-type": "application/json"},
                          body='{"status_code": 503, "detail": "busy"}')
        else:
            route.continue_()

    page.route("**/api/ask", busy_once)
    page.goto(sites["answers"])
    _ask(page, "Who attended the conference?")
    page.wait_for_selector(".msg.bot .answer")
    assert len(calls) == 2


def test_the_box_stays_open_while_a_question_is_read(page, sites):
    page.goto(sites["slow"])
    _ask(page, "Who attended the conference?")
    page.wait_for_selector(".msg.user")
    assert page.inner_text(".msg.user") == "Who attended the conference?"
    page.type("#question", "and when?")  # typing goes on while the first is read
    assert page.is_disabled("#send")
    page.wait_for_selector(".msg.bot .answer")
    assert page.input_value("#question") == "and when?"


def test_an_unreachable_server_is_said_plainly(page, sites):
    page.route("**/api/ask", lambda route: route.abort())
    page.goto(sites["answers"])
    _ask(page, "Who attended the conference?")
    page.wait_for_selector(".msg.error")
    assert "Could not reach the server" in page.inner_text(".msg.error")


def test_keyboard_alone_asks_opens_and_closes_an_article(page, sites):
    page.goto(sites["answers"])
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type("Who attended the conference?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.bot .read-link")
    page.focus(".read-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#reader:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "reader-title"
    page.keyboard.press("Escape")
    page.wait_for_selector("#reader", state="hidden")
    assert page.evaluate("document.activeElement.className") == "read-link"


def test_a_narrow_phone_screen_needs_no_sideways_scrolling(browser, sites):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(sites["answers"])
    _ask(page, "Who attended the conference?")
    page.wait_for_selector(".msg.bot .answer")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.click(".read-link")
    page.wait_for_selector("#reader:not([hidden])")
    box = page.query_selector("#reader").bounding_box()
    assert box["width"] <= 360
    context.close()


def test_an_article_whose_title_is_a_whole_paragraph_gets_a_heading_sized_title(page, sites):
    page.goto(sites["answers"] + "/#doc=lead&start=0&end=10")
    page.wait_for_selector("#reader:not([hidden]) #reader-text mark")
    title = page.inner_text("#reader-title")
    assert title.startswith("Heavy rain") and title.endswith("…") and len(title) <= 121
    assert page.get_attribute("#reader-title", "title").endswith("rising through the week.")


NEWS = [("harbour-a", "Ferry news\nThe ferry to Co To island left Van Don port on March 3 with 240 passengers.",
         {"url": "https://harbour.example/a", "published": "2024-03-03T08:00:00+07:00", "source": "Harbour Daily"}),
        ("coast-b", "Ferry report\nThe old ferry to Co To island carried 180 passengers from Van Don port in 2021.",
         {"url": "https://coast.example/b", "published": "2021-05-01", "source": "Coast Times", "author": "T. Van"})]


@pytest.fixture(scope="module")
def news_site(pipeline, settings, embedder, tmp_path_factory):
    """A server over the seed articles and two dated ferry stories from two sources; every span is an answer."""
    index_dir = tmp_path_factory.mktemp("news-page") / "index"
    shutil.copytree(settings.index_dir, index_dir)
    _, index = write(index_dir, index_config(embedder), [make_document(i, t, **m) for i, t, m in NEWS])
    answering = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6),
                              top_k=3, max_answers=20).with_index(index)
    url, server, thread = _serve(create_app(settings.model_copy(update={"index_dir": index_dir}), answering))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def _cite_metas(page) -> list[str]:
    return [m.inner_text() for m in page.query_selector_all(".msg.bot .citation .cite-meta")]


def test_each_answer_says_its_source_and_date_and_links_to_the_original(page, news_site):
    page.goto(news_site)
    page.wait_for_selector("#source option[value='Coast Times']", state="attached")  # the page's CSP allows no eval
    assert page.locator("#source option").count() == 3  # all, and the two sources
    assert page.text_content("#source option[value='Coast Times']") == "Coast Times (1)"
    _ask(page, "How many passengers did the ferry to Co To island carry?")
    page.wait_for_selector(".msg.bot .answer")
    page.wait_for_selector(".citation .cite-meta")
    metas = _cite_metas(page)
    assert any(m.startswith("Harbour Daily · 2024-03-03") for m in metas), metas
    link = page.query_selector(".citation .cite-meta a.source-link[href='https://harbour.example/a']")
    assert link and link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert page.errors == []


def test_the_date_range_and_source_filters_go_with_the_question(page, news_site):
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/api/ask") else None)
    page.goto(news_site)
    page.wait_for_selector("#source option[value='Coast Times']", state="attached")
    page.fill("#since", "2024-01-01")
    page.fill("#until", "2024-12-31")
    _ask(page, "How many passengers did the ferry carry?")
    page.wait_for_selector(".msg.bot .answer")
    assert sent[-1]["since"] == "2024-01-01" and sent[-1]["until"] == "2024-12-31" and "source" not in sent[-1]
    metas = _cite_metas(page)
    assert metas and all(m.startswith("Harbour Daily · 2024-03-03") for m in metas), metas
    page.fill("#since", "")
    page.fill("#until", "")
    page.select_option("#source", "Coast Times")
    _ask(page, "How many passengers did the ferry carry?")
    page.locator(".msg.bot").nth(1).wait_for()
    assert sent[-1]["source"] == "Coast Times" and "since" not in sent[-1]
    last = page.query_selector_all(".msg.bot")[-1]
    metas = [m.inner_text() for m in last.query_selector_all(".cite-meta")]
    assert metas and all(m.startswith("Coast Times · 2021-05-01 · by T. Van") for m in metas), metas
    page.click(".msg.bot:last-child .read-link")
    page.wait_for_selector("#reader:not([hidden]) #reader-meta .cite-meta")
    assert page.inner_text("#reader-meta").startswith("Coast Times · 2021-05-01")
    assert page.errors == []
