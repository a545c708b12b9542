"""Harness-provided (read-only): the program must at least parse; the evaluator measures it."""

import ast
import json
import tomllib
from pathlib import Path

tomllib.loads(Path("program.toml").read_text())
json.loads(Path("policy.json").read_text())
ast.parse(Path("researcher.py").read_text())
print("program parses")
