#!/usr/bin/env bash
# Create .venv in the repo root and install what one purpose needs. Idempotent, and quick once installed.
#   bash scripts/setup.sh         the service and its runtime dependencies only (./run.sh)
#   bash scripts/setup.sh test    also the test, train and ray extras and Debian's Chromium (./test.sh)
# Training alone needs the train extra: .venv/bin/pip install -e ".[train]".
set -euo pipefail
cd "$(dirname "$0")/.."
PURPOSE=${1:-serve}
SERVE_MODULES="qa torch transformers sentence_transformers faiss litestar uvicorn bm25s onnxruntime prometheus_client httpx mcp"
case "$PURPOSE" in
  serve) EXTRAS=""; MODULES="$SERVE_MODULES" ;;
  test) EXTRAS="[test,train,ray]"; MODULES="$SERVE_MODULES pytest httpx playwright schemathesis sklearn matplotlib ray" ;;
  *) echo "usage: $0 [test]  (no argument: the service only)" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ "$PURPOSE" = test ] && ! command -v chromium >/dev/null 2>&1; then
  # Debian's Chromium for the chat page's browser tests (Playwright drives it; it downloads no browser).
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
fi
# find_spec looks the modules up without importing them (importing torch alone takes seconds).
present() {
  .venv/bin/python - "$@" <<'EOF'
import importlib.util, sys
sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))
EOF
}
MARK=.venv/.installed-$PURPOSE
# shellcheck disable=SC2086
if ! present $MODULES || [ ! -e "$MARK" ] || [ pyproject.toml -nt "$MARK" ]; then
  # torch==2.13.0 first: that exact version is the CPU build on local disk; anything else pulls a CUDA build.
  # --no-compile: byte-compiling every module of torch and the rest took most of the install (355 s against 36 s
  # for torch alone on a busy 2-core machine); Python compiles the few that a run imports, once, on first use.
  .venv/bin/python -m pip install -q --no-compile "torch==2.13.0"
  .venv/bin/python -m pip install -q --no-compile -e ".$EXTRAS"
  touch "$MARK"
fi
