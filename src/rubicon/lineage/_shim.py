"""Runs inside the sandbox: one `propose` of a python researcher program.

    python -m rubicon.lineage._shim PROGRAM_DIR module:factory CONTEXT.pkl OUT.json

The context pickle is written by the harness (trusted direction); the proposal goes out as JSON
that the harness validates (rubicon.lineage.program). Nothing here touches the store.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    program, entry, context, out = argv
    sys.path.insert(0, program)
    mod_name, _, attr = entry.partition(":")
    factory = getattr(importlib.import_module(mod_name), attr)
    researcher = factory()
    ctx = pickle.loads(Path(context).read_bytes())
    proposal = researcher.propose(ctx)
    Path(out).write_text("null" if proposal is None else proposal.model_dump_json(),
                         encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
