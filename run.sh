#!/usr/bin/env bash
# One command from a fresh clone: create .venv, install the service and its runtime dependencies only
# (CPU torch from local disk), build the index from seeds/ if there is none, and serve on http://127.0.0.1:8000.
# Extra arguments go to `qa serve` (e.g. ./run.sh --port 8080). The tests' set-up is ./test.sh.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
exec .venv/bin/qa serve "$@"
