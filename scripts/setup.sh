#!/usr/bin/env bash
# Create .venv in the repo root and install the project with its test and training extras. Idempotent and quick
# when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Debian's Chromium for the chat page's browser tests (Playwright drives it; it downloads no browser).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
fi
if ! .venv/bin/python -c "import qa, torch, transformers, faiss, litestar, bm25s, pytest, sklearn, playwright, schemathesis, ray" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch==2.13.0 first: that exact version is the CPU build; anything else pulls a CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[test,train,ray]"
  touch .venv/.installed
fi
