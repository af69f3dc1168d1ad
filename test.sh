#!/usr/bin/env bash
# One command runs the tests (offline, CI-sized): installs what they need besides the service (the test,
# train and ray extras, Debian's Chromium for the chat page's browser tests), then pytest. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
