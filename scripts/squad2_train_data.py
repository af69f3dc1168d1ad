"""Split the SQuAD 2.0 train files of ``../shared/qa-train/`` into held-out sets and an ordered training file.

Rule, fixed before any result was seen: of the ``squad2_train_unansq`` articles that have unanswerable
questions, that no earlier reader trained on (not in ``squad_train.json``), ordered by the SHA-1 of their
title, every ``--every``-th is held out; held-out articles alternate between the *policy* set (the no-answer
decision is fitted on it) and the *decide* set (candidates are judged on it). The round-trip wording file
(``squad2_train_mt_unanswerable``) is split by the same titles. Paragraphs holding a question marked
``unansq_split: "dev"`` are left out of the held-out sets: earlier readers trained on them, lowercased, as
``unansq_pairs.json``.

The training file puts first what carries most of the gain: every paragraph with unanswerable questions,
with all its questions (the answerable ones it was written beside, too); a share of the round-trip
unanswerable questions; then Adversarial SQuAD (AddSent) less the held-out dev articles.

    python scripts/squad2_train_data.py --shared ../shared/qa-train --out runs/data
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import random
from pathlib import Path

# squad_dev.json and the six held-out squad2_dev_more articles (qa reader split, HELD_OUT_EVERY = 5)
HELD_OUT_DEV = {"Super_Bowl_50", "Rhine", "1973_oil_crisis", "Ctenophora", "Fresno,_California", "Imperialism",
                "Packet_switching", "Steam_engine"}


def load_parts(pattern: str) -> list[dict]:
    articles: list[dict] = []
    for path in sorted(glob.glob(pattern)):
        articles += json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    return articles


def title_order(title: str) -> str:
    return hashlib.sha1(title.encode()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default="../shared/qa-train")
    ap.add_argument("--out", default="runs/data")
    ap.add_argument("--every", type=int, default=12, help="hold out every N-th eligible article")
    ap.add_argument("--mt-share", type=float, default=0.35, help="share of round-trip unanswerable questions trained on")
    ap.add_argument("--other-paragraphs", type=float, default=0.0,
                    help="share of paragraphs without unanswerable questions also trained on")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    unansq = load_parts(str(shared / "squad2_train_unansq-part*.json"))
    mt = load_parts(str(shared / "squad2_train_mt_unanswerable-part*.json"))
    seen_before = {a["title"] for a in json.loads((shared / "squad_train.json").read_text())["data"]}

    def has_unanswerable(a: dict) -> bool:
        return any(q.get("is_impossible") for p in a["paragraphs"] for q in p["qas"])

    eligible = sorted((a["title"] for a in unansq if has_unanswerable(a) and a["title"] not in seen_before), key=title_order)
    held = eligible[:: args.every]
    policy_titles, decide_titles = set(held[0::2]), set(held[1::2])

    def clean(p: dict) -> bool:
        return not any(q.get("unansq_split") == "dev" for q in p["qas"])

    def pick(articles: list[dict], titles: set[str]) -> list[dict]:
        picked = []
        for a in articles:
            if a["title"] in titles:
                paras = [p for p in a["paragraphs"] if clean(p)]
                if paras:
                    picked.append({"title": a["title"], "paragraphs": paras})
        return picked

    # the held-out sets: the original wording only (the round-trip wording is a training aid, not what users ask)
    for name, titles in (("policy", policy_titles), ("decide", decide_titles)):
        arts = pick(unansq, titles)
        path = out / f"squad2_train_heldout_{name}.json"
        path.write_text(json.dumps({"version": "v2.0", "data": arts}, ensure_ascii=False))
        n = [q for a in arts for p in a["paragraphs"] for q in p["qas"]]
        print(f"{path}: {len(arts)} articles, {len(n)} questions, {sum(bool(q.get('is_impossible')) for q in n)} unanswerable")

    held_all = policy_titles | decide_titles
    first, rest = [], []
    for a in unansq:
        if a["title"] in held_all:
            continue
        for p in a["paragraphs"]:
            qas = [q for q in p["qas"] if q.get("unansq_split") != "dev"]  # those are unansq_pairs.json's
            if any(q.get("is_impossible") for q in qas):
                first.append((a["title"], p["context"], qas))
            elif rng.random() < args.other_paragraphs:
                rest.append((a["title"], p["context"], qas))
    mt_rows = []
    for a in mt:
        if a["title"] in held_all:
            continue
        for p in a["paragraphs"]:
            qas = [q for q in p["qas"] if rng.random() < args.mt_share]
            if qas:
                mt_rows.append((a["title"], p["context"], [dict(q, id=q["id"] + "-mt") for q in qas]))
    addsent = [(a["title"], p["context"], p["qas"])
               for a in json.loads((shared / "squad_adversarial_addsent.json").read_text())["data"]
               if a["title"] not in HELD_OUT_DEV for p in a["paragraphs"]]

    def as_squad(rows: list[tuple]) -> dict:
        by_title: dict[str, list[dict]] = {}
        for title, ctx, qas in rows:
            by_title.setdefault(title, []).append({"context": ctx, "qas": qas})
        return {"version": "v2.0", "data": [{"title": t, "paragraphs": ps} for t, ps in by_title.items()]}

    for name, rows in (("paired", first), ("other", rest), ("mt", mt_rows), ("addsent", addsent)):
        if not rows:
            continue
        path = out / f"squad2_train_{name}.json"
        path.write_text(json.dumps(as_squad(rows), ensure_ascii=False))
        qs = [q for _, _, qas in rows for q in qas]
        print(f"{path}: {len(rows)} paragraphs, {len(qs)} questions, {sum(bool(q.get('is_impossible')) for q in qs)} unanswerable")
    print("held out (policy):", sorted(policy_titles))
    print("held out (decide):", sorted(decide_titles))


if __name__ == "__main__":
    main()
