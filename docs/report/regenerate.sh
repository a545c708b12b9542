#!/usr/bin/env bash
# Regenerate the committed example report in docs/report/ (see docs/REPORT.md).
#
#   docs/report/regenerate.sh                          # fresh demo-inversions campaign (~1-2 min)
#   RUNS=path/to/rubicon-runs docs/report/regenerate.sh  # report an existing store instead,
#                                                      # e.g. an lm-speedrun campaign (latest in it)
#   CAMPAIGN=<id> RUNS=... docs/report/regenerate.sh   # a chosen campaign of that store
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${RUNS:-}" ]; then
  RUNS="$(mktemp -d)/rubicon-runs"
  rubicon run demo-inversions --researcher scripted -R "script=$here/demo-script.json" \
    --budget 5m --dir "$RUNS"
fi
rm -f "$here"/*.png
rubicon report ${CAMPAIGN:+"$CAMPAIGN"} --dir "$RUNS" --out "$here/index.html"
