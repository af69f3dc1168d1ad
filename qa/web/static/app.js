// Chat page for the question-answering service. Everything that comes from the server (answers,
// titles, passages, article text, error messages) is inserted as text nodes, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const chat = $("chat"), form = $("ask-form"), question = $("question"), topK = $("top-k");
const send = $("send"), statusEl = $("status");
const reader = $("reader"), readerTitle = $("reader-title"), readerText = $("reader-text"), readerMeta = $("reader-meta");
const since = $("since"), until = $("until"), source = $("source");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// The server counts offsets in Unicode code points (Python str); JavaScript strings index UTF-16 units.
const SURROGATE = /[\uD800-\uDFFF]/;
function unitIndex(text, codePoints) {
  if (!SURROGATE.test(text)) return Math.max(0, Math.min(codePoints, text.length));
  let i = 0;
  for (let n = 0; n < codePoints && i < text.length; n++) i += text.codePointAt(i) > 0xffff ? 2 : 1;
  return i;
}

// Append text before, <mark>text[start:end]</mark>, and text after to parent, all as text nodes.
// start/end are code-point offsets into text; returns the <mark>, or null when there is no span.
function appendHighlighted(parent, text, start, end) {
  text = String(text ?? "");
  if (!Number.isInteger(start) || !Number.isInteger(end) || end <= start) {
    parent.append(document.createTextNode(text));
    return null;
  }
  const s = unitIndex(text, start), e = Math.max(s, unitIndex(text, end));
  const mark = el("mark", "", text.slice(s, e));
  parent.append(document.createTextNode(text.slice(0, s)), mark, document.createTextNode(text.slice(e)));
  return mark;
}

function scrollToNewest(node) {
  const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  node.scrollIntoView({ block: "nearest", behavior: smooth ? "smooth" : "auto" });
}

function addMessage(kind, text) {
  const hint = $("empty-hint");
  if (hint) hint.remove();
  const msg = el("div", "msg " + kind, text);
  chat.append(msg);
  scrollToNewest(msg);
  return msg;
}

// Where and when an article was published: "Source · 2023-07-10 · page 3 · by Author", and a link to the
// original when there is one (only http(s) links: the server refuses others too).
function appendSourceLine(parent, c) {
  const parts = [];
  if (c.source) parts.push(String(c.source));
  if (c.published) parts.push(String(c.published).slice(0, 10));
  if (Number.isInteger(c.page)) parts.push("page " + c.page);
  if (c.author) parts.push("by " + String(c.author));
  const others = (Array.isArray(c.other_sources) ? c.other_sources : []).map((o) => o && o.source).filter(Boolean);
  if (others.length) parts.push("also in " + others.join(", "));
  const url = typeof c.url === "string" && /^https?:\/\//i.test(c.url) ? c.url : null;
  if (!parts.length && !url) return null;
  const line = el("div", "cite-meta", parts.join(" · "));
  if (url) {
    const link = el("a", "source-link", "Original ↗");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.setAttribute("aria-label", "The original article" + (c.source ? " on " + c.source : "") + " (opens a new tab)");
    if (parts.length) line.append(document.createTextNode(" · "));
    line.append(link);
  }
  parent.append(line);
  return line;
}

// The date range and source chosen on the page, as the API's filter fields (absent when not set).
function filters() {
  const out = {};
  if (since.value) out.since = since.value;
  if (until.value) out.until = until.value;
  if (source.value) out.source = source.value;
  return out;
}

async function loadSources() {
  try {
    const response = await fetch("/api/sources", { headers: { accept: "application/json" } });
    if (!response.ok) return;
    for (const s of await response.json()) {
      const option = el("option", "", s.source + " (" + s.documents + ")");
      option.value = s.source;
      source.append(option);
    }
  } catch (_) { /* the filter keeps "All sources" */ }
}

function readerHref(c) {
  return "#doc=" + encodeURIComponent(c.doc_id) + "&start=" + Number(c.start) + "&end=" + Number(c.end);
}

function renderAnswers(body) {
  const answers = Array.isArray(body.answers) ? body.answers : [];
  if (answers.length === 0) {
    const msg = addMessage("bot none", "Not found in the articles.");
    showClosest(msg, body.question);
    return;
  }
  const msg = el("div", "msg bot");
  for (const answer of answers) {
    const box = el("div", "answer");
    const head = el("div", "answer-text", answer.text);
    const score = Number(answer.score);
    head.append(el("span", "score", "score " + (Number.isFinite(score) ? score.toFixed(2) : "n/a")));
    box.append(head);
    for (const c of answer.citations || []) {
      const cite = el("div", "citation");
      cite.append(el("div", "cite-title", c.title));
      appendSourceLine(cite, c);
      const passage = el("p", "passage");
      appendHighlighted(passage, c.passage, c.start - c.passage_start, c.end - c.passage_start);
      const link = el("a", "read-link", "Read the article");
      link.href = readerHref(c);
      link.setAttribute("aria-label", "Read the article: " + String(c.title ?? ""));
      cite.append(passage, link);
      box.append(cite);
    }
    msg.append(box);
  }
  if (Number.isFinite(body.took_ms)) msg.append(el("div", "meta", "answered in " + Math.round(body.took_ms) + " ms"));
  chat.append(msg);
  scrollToNewest(msg);
}

// On "not found", the passages the service read that come closest, so the user sees why.
async function showClosest(msg, text) {
  try {
    const response = await fetch("/api/search?" + new URLSearchParams({ q: String(text ?? ""), k: "3", ...filters() }),
                                 { headers: { accept: "application/json" } });
    if (!response.ok) return;
    const results = (await response.json()).results || [];
    if (results.length === 0) return;
    msg.append(el("div", "closest-head", "The articles mention:"));
    for (const r of results) {
      const cite = el("div", "citation");
      cite.append(el("div", "cite-title", r.title));
      appendSourceLine(cite, r);
      cite.append(el("p", "passage", r.passage));
      const link = el("a", "read-link", "Read the article");
      link.href = readerHref({ doc_id: r.doc_id, start: r.start, end: r.end });
      link.setAttribute("aria-label", "Read the article: " + String(r.title ?? ""));
      cite.append(link);
      msg.append(cite);
    }
    scrollToNewest(msg);
  } catch (_) { /* the "not found" itself has been shown */ }
}

// Litestar errors: {"status_code", "detail", "extra": [...] | {...}}. Returns lines of plain text.
async function errorLines(response) {
  const lines = ["The request failed (HTTP " + response.status + (response.statusText ? " " + response.statusText : "") + ")."];
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!body || typeof body !== "object") return lines;
  if (body.detail) lines.push(String(body.detail));
  const extra = body.extra;
  const describe = (x) => typeof x === "string" ? x
    : x && typeof x === "object" ? ([x.key, x.message].filter(Boolean).join(": ") || JSON.stringify(x)) : String(x);
  if (Array.isArray(extra)) lines.push(...extra.map(describe));
  else if (extra && typeof extra === "object") {
    for (const [k, v] of Object.entries(extra)) lines.push(k + ": " + (typeof v === "string" ? v : JSON.stringify(v)));
  } else if (extra) lines.push(String(extra));
  return lines;
}

function addError(lines) {
  const msg = addMessage("error", lines[0]);
  msg.setAttribute("role", "alert");
  for (const line of lines.slice(1)) msg.append(el("div", "", line));
  scrollToNewest(msg);
}

// While a question is read the box stays open for the next one; only sending waits.
function setBusy(busy) {
  send.disabled = busy;
  chat.setAttribute("aria-busy", String(busy));
  statusEl.textContent = busy ? "reading the articles…" : "";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The limits and the default come from the page the server rendered (its settings), not from here.
function readTopK() {
  let k = parseInt(topK.value, 10);
  if (!Number.isInteger(k)) k = parseInt(topK.defaultValue, 10);
  k = Math.min(parseInt(topK.max, 10), Math.max(parseInt(topK.min, 10), k));
  topK.value = String(k);
  return k;
}

async function ask(text) {
  addMessage("user", text);
  setBusy(true);
  try {
    const request = () => fetch("/api/ask", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ question: text, top_k: readTopK(), ...filters() }),
    });
    let response = await request();
    if (response.status === 503) { // busy: say so, wait as the server asks, and try once more
      const wait = Math.min(10, Math.max(0, parseFloat(response.headers.get("retry-after")) || 1));
      statusEl.textContent = "the service is busy, trying again…";
      await sleep(wait * 1000);
      response = await request();
    }
    if (response.status === 503) addError(["The service is busy right now. Please try again in a moment."]);
    else if (!response.ok) addError(await errorLines(response));
    else renderAnswers(await response.json());
  } catch (err) {
    addError(["Could not reach the server. Check the connection and try again.", String(err && err.message || err)]);
  } finally {
    setBusy(false);
    if (document.activeElement === document.body) question.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = question.value.trim();
  if (!text || send.disabled) return;
  question.value = "";
  ask(text);
});

question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// ---- The article reader: #doc=<id>&start=<n>&end=<n> opens the whole article with the span marked.
// Each reader entry in the history carries {depth}: how many reader entries sit on top of the chat,
// so "Close" can go back to the chat in one step while the back button walks through the articles.
let depth = 0, loadSeq = 0, returnFocus = null;
let cached = null; // the last article fetched: {doc_id, title, text}

function routeParams() {
  return new URLSearchParams(location.hash.slice(1));
}

async function showReader() {
  const params = routeParams();
  const docId = params.get("doc");
  depth = history.state && Number.isInteger(history.state.depth) ? history.state.depth : 0;
  if (!docId) {
    const wasOpen = !reader.hidden;
    reader.hidden = true;
    document.body.classList.remove("reading");
    if (wasOpen) (returnFocus && returnFocus.isConnected ? returnFocus : question).focus();
    return;
  }
  const seq = ++loadSeq;
  reader.hidden = false;
  document.body.classList.add("reading");
  readerText.replaceChildren();
  readerMeta.replaceChildren();
  try {
    let doc = cached && cached.doc_id === docId ? cached : null;
    if (!doc) {
      readerTitle.textContent = "Loading the article…";
      const response = await fetch("/api/documents/" + encodeURIComponent(docId), { headers: { accept: "application/json" } });
      if (seq !== loadSeq) return;
      if (!response.ok) {
        readerTitle.textContent = "Could not open the article";
        for (const line of await errorLines(response)) readerText.append(el("p", "", line));
        readerTitle.focus();
        return;
      }
      doc = await response.json();
      if (seq !== loadSeq) return;
      cached = { ...doc, doc_id: docId, title: String(doc.title ?? ""), text: String(doc.text ?? "") };
      doc = cached;
    }
    const pages = Array.isArray(doc.pages) ? doc.pages : [], at = parseInt(params.get("start"), 10);
    const page = pages.length && Number.isInteger(at) ? Math.max(1, pages.filter((p) => p <= at).length) : null;
    appendSourceLine(readerMeta, { ...doc, page });
    readerTitle.textContent = shortTitle(doc.title, doc.text) || docId;
    readerTitle.title = doc.title || "";
    const mark = appendHighlighted(readerText, doc.text, parseInt(params.get("start"), 10), parseInt(params.get("end"), 10));
    readerTitle.focus({ preventScroll: true });
    if (mark) mark.scrollIntoView({ block: "center" });
    else reader.scrollTop = 0;
  } catch (err) {
    if (seq !== loadSeq) return;
    readerTitle.textContent = "Could not open the article";
    readerText.append(el("p", "", "Could not reach the server: " + String(err && err.message || err)));
  }
}

// Scraped titles can be a whole lead paragraph, or missing: show a heading-sized title either way.
function shortTitle(title, text) {
  let t = String(title ?? "").trim() || String(text ?? "").trim().split("\n")[0];
  if (t.length <= 120) return t;
  const cut = t.lastIndexOf(" ", 117);
  return t.slice(0, cut > 60 ? cut : 117) + "…";
}

function closeReader() {
  if (depth > 0) history.go(-depth); // back to the chat entry; hashchange hides the panel
  else {
    history.replaceState(null, "", location.pathname + location.search);
    showReader();
  }
}

window.addEventListener("hashchange", () => {
  if (history.state === null) { // a new entry (link click or typed URL): number it
    const next = routeParams().get("doc") ? depth + 1 : 0;
    history.replaceState({ depth: next }, "");
  }
  showReader();
});

chat.addEventListener("click", (event) => {
  const link = event.target.closest("a.read-link");
  if (!link) return;
  returnFocus = link;
  if (link.getAttribute("href") === location.hash) { // same span again: no hashchange, just re-show
    event.preventDefault();
    showReader();
  }
});

$("reader-close").addEventListener("click", closeReader);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !reader.hidden) closeReader();
});

// A shared link opened directly: put the chat underneath it, so Back and Close both lead to the chat.
if (routeParams().get("doc") && !(history.state && Number.isInteger(history.state.depth))) {
  const hash = location.hash;
  history.replaceState({ depth: 0 }, "", location.pathname + location.search);
  history.pushState({ depth: 1 }, "", hash);
}
showReader();
loadSources();
if (reader.hidden) question.focus();
