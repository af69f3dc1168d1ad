#!/usr/bin/env bash
# On the lent GPU machine, one call of issue 16's trip (scripts/gpu_trip.py prepares the folders here):
#   bash scripts/gpu_trip.sh .gpu/call1            # copy this call's parts; the machine keeps them while warm
#   bash scripts/gpu_trip.sh .gpu/call3 --train    # the last: join the parts, unpack, train, results to $OUT
# TRIP (default /tmp/trip) is where the parts gather; MIX, STUDENTS, DEADLINE and EXTRA change the run (tests run
# it tiny on the CPU with EXTRA="--tiny --device cpu").
set -euo pipefail
cd "$(dirname "$0")/.."
TRIP=${TRIP:-/tmp/trip}
mkdir -p "$TRIP/parts"
cp "$1"/* "$TRIP/parts/"
echo "$(ls "$TRIP/parts" | wc -l) parts gathered in $TRIP/parts"
[ "${2:-}" = "--train" ] || exit 0
PY=${PYTHON:-python3}
cat "$TRIP"/parts/qa-train.tar.xz.part* | tar -xJ -C "$TRIP"
$PY scripts/weights_transport.py unpack "$TRIP/parts/mpnet" "$TRIP/mpnet"
$PY scripts/weights_transport.py unpack "$TRIP/parts/minilm" "$TRIP/minilm"
D=$TRIP/qa-train
# On the trust mix (19,550 questions) a 2-epoch teacher took 71 s of an H200 and three students 243-282 s side
# by side (2026-11-26). The squad2 mix is twice the questions (39,295), so two students run by default, not
# three; --deadline-minutes stops them in time for a call's 600 s, and whatever they reached comes back.
PYTHONUNBUFFERED=1 $PY scripts/distill_pipeline.py --data-dir "$D" --heldout "$D/squad_dev.json" --mix "${MIX:-squad2}" \
  --more-heldout "$D/squad2_dev_more.json" --teacher-base "$TRIP/mpnet" --student-base "$TRIP/minilm" \
  --work "$TRIP/work" --results "$OUT" --parallel --students "${STUDENTS:-cloze-b,student-b}" \
  --deadline-minutes "${DEADLINE:-8.6}" ${EXTRA:-} 2>&1 | tee "$OUT/log.txt"
