// Chat page for the question-answering service. Everything that comes from the server (answers,
// titles, passages, article text, error messages) is inserted as text nodes, never as HTML.
"use strict";

const chat = document.getElementById("chat");
const form = document.getElementById("ask-form");
const question = document.getElementById("question");
const topK = document.getElementById("top-k");
const send = document.getElementById("send");
const statusEl = document.getElementById("status");
const reader = document.getElementById("reader");
const readerTitle = document.getElementById("reader-title");
const readerText = document.getElementById("reader-text");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Append text[0:start] + <mark>text[start:end]</mark> + text[end:] to parent, as text nodes.
function appendHighlighted(parent, text, start, end) {
  const s = Math.max(0, Math.min(start, text.length));
  const e = Math.max(s, Math.min(end, text.length));
  parent.append(document.createTextNode(text.slice(0, s)));
  const mark = el("mark", "", text.slice(s, e));
  parent.append(mark);
  parent.append(document.createTextNode(text.slice(e)));
  return mark;
}

function addMessage(kind, text) {
  const msg = el("div", "msg " + kind, text);
  chat.append(msg);
  msg.scrollIntoView({ block: "end", behavior: "smooth" });
  return msg;
}

function renderAnswers(body) {
  if (!body.answers || body.answers.length === 0) {
    addMessage("bot none", "Not found in the articles.");
    return;
  }
  const msg = addMessage("bot");
  for (const answer of body.answers) {
    const box = el("div", "answer");
    const head = el("div", "answer-text", answer.text);
    head.append(el("span", "score", "score " + Number(answer.score).toFixed(2)));
    box.append(head);
    for (const c of answer.citations) {
      const cite = el("div", "citation");
      cite.append(el("div", "cite-title", c.title));
      const passage = el("p", "passage");
      appendHighlighted(passage, c.passage, c.start - c.passage_start, c.end - c.passage_start);
      cite.append(passage);
      const link = el("a", "read-link", "Read the article");
      link.href = "#doc=" + encodeURIComponent(c.doc_id) + "&start=" + c.start + "&end=" + c.end;
      cite.append(link);
      box.append(cite);
    }
    msg.append(box);
  }
  msg.scrollIntoView({ block: "end", behavior: "smooth" });
}

async function errorText(response) {
  try {
    const body = await response.json();
    let text = body.detail || ("Request failed (" + response.status + ")");
    const extra = Array.isArray(body.extra) ? body.extra : [];
    const parts = extra.map((x) => [x.key, x.message].filter(Boolean).join(": ")).filter(Boolean);
    if (parts.length) text += " — " + parts.join("; ");
    return text;
  } catch (_) {
    return "The server failed (HTTP " + response.status + "). Please try again.";
  }
}

async function ask(text) {
  addMessage("user", text);
  send.disabled = true;
  question.disabled = true;
  statusEl.textContent = "thinking…";
  try {
    const payload = { question: text };
    const k = parseInt(topK.value, 10);
    if (Number.isInteger(k)) payload.top_k = k;
    const response = await fetch("/api/ask", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
    if (!response.ok) {
      addMessage("error", await errorText(response));
    } else {
      renderAnswers(await response.json());
    }
  } catch (err) {
    addMessage("error", "Could not reach the server: " + err.message);
  } finally {
    send.disabled = false;
    question.disabled = false;
    statusEl.textContent = "";
    question.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = question.value.trim();
  if (!text) return;
  question.value = "";
  ask(text);
});

question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// The article reader: #doc=<id>&start=<n>&end=<n> opens the whole article with the span marked.
async function showArticleFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const docId = params.get("doc");
  if (!docId) {
    reader.hidden = true;
    return;
  }
  reader.hidden = false;
  readerTitle.textContent = "Loading…";
  readerText.textContent = "";
  try {
    const response = await fetch("/api/documents/" + encodeURIComponent(docId));
    if (!response.ok) {
      readerTitle.textContent = "Could not open the article";
      readerText.textContent = await errorText(response);
      return;
    }
    const doc = await response.json();
    readerTitle.textContent = doc.title;
    const start = parseInt(params.get("start"), 10);
    const end = parseInt(params.get("end"), 10);
    if (Number.isInteger(start) && Number.isInteger(end)) {
      const mark = appendHighlighted(readerText, doc.text, start, end);
      mark.scrollIntoView({ block: "center" });
    } else {
      readerText.textContent = doc.text;
    }
  } catch (err) {
    readerTitle.textContent = "Could not open the article";
    readerText.textContent = "Could not reach the server: " + err.message;
  }
}

document.getElementById("reader-close").addEventListener("click", (event) => {
  event.preventDefault();
  history.pushState(null, "", location.pathname);
  reader.hidden = true;
  question.focus();
});
window.addEventListener("hashchange", showArticleFromHash);
showArticleFromHash();
question.focus();
