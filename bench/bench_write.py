"""Adding 100 short articles: one ``POST /api/documents`` to a running server against ``qa ingest`` of the
same articles as files, each into its own fresh copy of the seed index.

    .venv/bin/python bench/bench_write.py [--articles 100] [--rounds 3]

Prints, per round, the wall time of the ``qa ingest`` command (process start and model load included),
of the ingest itself in a warm process (``qa.search.ingest.ingest``, the same work without the start-up),
and of the POST on a warm server; and the POST's ratio to each. The target: POST <= 1.3x ``qa ingest``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from serving import QA, start_server, stop

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def articles(n: int, round_: int) -> list[dict]:
    return [{"id": f"r{round_}-a{i}", "title": f"Local news {i}",
             "text": f"Local news {i}\nThe district council of ward {i} met on day {round_}. It approved a budget of "
                     f"{i * 13} million dong for the school roof. Residents asked for a new bus stop near the market."}
            for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from qa.search.embedding import Embedder
    from qa.search.ingest import IndexConfig, ingest
    from qa.settings import Settings

    settings = Settings()
    config = IndexConfig.from_settings(settings, Embedder.from_settings(settings))
    config.embedder.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        seed = tmp / "seed"
        subprocess.run([QA, "ingest", "--index", str(seed)], env=ENV, check=True, stdout=subprocess.DEVNULL)
        server_index = tmp / "served"
        shutil.copytree(seed, server_index)
        server, base = start_server({**ENV, "QA_API_TOKEN": "bench"}, ("--index", str(server_index)))
        try:
            rows = []
            for r in range(args.rounds):
                docs = articles(args.articles, r)
                folder = tmp / f"files{r}"
                folder.mkdir()
                for d in docs:
                    (folder / f"{d['id']}.txt").write_text(d["text"])
                cli_index, warm_index = tmp / f"cli{r}", tmp / f"warm{r}"
                shutil.copytree(seed, cli_index)
                shutil.copytree(seed, warm_index)
                t0 = time.perf_counter()
                subprocess.run([QA, "ingest", str(folder), "--index", str(cli_index)], env=ENV, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                cli_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                ingest([folder], warm_index, config, settings.max_document_bytes)
                warm_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                resp = httpx.post(base + "/api/documents", json={"documents": docs},
                                  headers={"Authorization": "Bearer bench"}, timeout=600)
                post_s = time.perf_counter() - t0
                assert resp.status_code == 200 and len(resp.json()["added"]) == args.articles, resp.text[:300]
                rows.append((cli_s, warm_s, post_s))
                print(f"round {r}: qa ingest {cli_s:.2f} s, ingest in a warm process {warm_s:.2f} s, POST {post_s:.2f} s "
                      f"(POST / qa ingest {post_s / cli_s:.2f}, POST / warm ingest {post_s / warm_s:.2f})", flush=True)
        finally:
            stop(server)
    med = [statistics.median(x) for x in zip(*rows)]
    print(f"median of {args.rounds}: qa ingest {med[0]:.2f} s, warm ingest {med[1]:.2f} s, POST {med[2]:.2f} s; "
          f"POST / qa ingest {med[2] / med[0]:.2f}, POST / warm ingest {med[2] / med[1]:.2f}")


if __name__ == "__main__":
    main()
