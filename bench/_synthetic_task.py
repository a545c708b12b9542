"""A throwaway task for harness benchmarks: a pure-Python loop whose length is a knob."""

from __future__ import annotations

import json
from pathlib import Path

from rubicon.task import Task, load_task

TOML = """
name = "bench-loop"
instructions = "Loop less."
editable = ["knobs.json"]
knobs_file = "knobs.json"

[run]
command = ["python", "run.py"]
time_limit = 60
memory_mb = 1024
artifacts = ["out.txt"]

[evaluate]
command = ["python", "{task}/evaluator/check.py", "{artifacts}"]

[[gates]]
metric = "correct"
op = "=="
value = 1

[knobs.n]
type = "int"
low = 0
high = 100000000
default = 1000000
"""

RUN = """import json
n = json.load(open("knobs.json"))["n"]
s = 0
for i in range(n):
    s += i
open("out.txt", "w").write(str(s))
"""

CHECK = """import sys, pathlib
print("correct:", int((pathlib.Path(sys.argv[1]) / "out.txt").exists()))
"""


def make_loop_task(root: Path, n: int) -> Task:
    d = root / "bench-loop"
    (d / "workspace").mkdir(parents=True, exist_ok=True)
    (d / "evaluator").mkdir(exist_ok=True)
    (d / "task.toml").write_text(TOML)
    (d / "workspace" / "run.py").write_text(RUN)
    (d / "workspace" / "knobs.json").write_text(json.dumps({"n": n}))
    (d / "evaluator" / "check.py").write_text(CHECK)
    return load_task(d)


def knobs(n: int) -> dict[str, str]:
    return {"knobs.json": json.dumps({"n": n})}
