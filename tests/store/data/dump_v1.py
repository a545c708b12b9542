"""Dump every record of the v1 store as the v1 code reads it (the migration test's reference)."""
import json
import sys

from rubicon.store import Store

s = Store(sys.argv[1], create=False, read_only=True)
out = {"campaigns": [c.model_dump(mode="json") for c in s.campaigns()], "experiments": []}
for c in s.campaigns():
    for e in s.experiments(c.id):
        out["experiments"].append(s.experiment(e.id).model_dump(mode="json"))
print(json.dumps(out, indent=1, sort_keys=True))
