#!/usr/bin/env bash
# Regenerate a committed example report (see docs/REPORT.md).
#
#   docs/report/regenerate.sh                          # fresh demo-inversions campaign (~1-2 min)
#   RUNS=path/to/rubicon-runs docs/report/regenerate.sh  # report an existing store instead
#                                                      # (the latest campaign in it)
#   CAMPAIGN=<id> RUNS=... docs/report/regenerate.sh   # a chosen campaign of that store
#   OUT=docs/report/lm-speedrun RUNS=... docs/report/regenerate.sh   # into another folder
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here}"
mkdir -p "$out"
if [ -z "${RUNS:-}" ]; then
  RUNS="$(mktemp -d)/rubicon-runs"
  rubicon run demo-inversions --researcher scripted -R "script=$here/demo-script.json" \
    --budget 5m --dir "$RUNS"
fi
rm -f "$out"/*.png
rubicon report ${CAMPAIGN:+"$CAMPAIGN"} --dir "$RUNS" --out "$out/index.html"
