"""No file under src/rubicon over 500 lines and no class over 300 (issue 19): small parts with
one job each. Every .py file is counted, the task programs under task/builtin included; a class
counts from its `class` line to its last line (decorators excluded)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rubicon"
MAX_FILE_LINES = 500
MAX_CLASS_LINES = 300


def oversized(root: Path, max_file: int = MAX_FILE_LINES, max_class: int = MAX_CLASS_LINES) -> list[str]:
    """Every file and class over its limit, as readable lines (empty: all fit)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root.parent)
        n = len(text.splitlines())
        if n > max_file:
            out.append(f"{rel}: {n} lines (at most {max_file})")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > max_class:
                    out.append(f"{rel}:{node.lineno}: class {node.name} has {size} lines "
                               f"(at most {max_class})")
    return out


def test_no_file_or_class_of_the_source_tree_is_too_big() -> None:
    assert len(list(SRC.rglob("*.py"))) > 50  # it read the tree
    assert oversized(SRC) == []


def test_the_check_names_the_offenders(tmp_path: Path) -> None:
    pkg = tmp_path / "rubicon"
    (pkg / "sub").mkdir(parents=True)
    body = "\n".join(f"    x{i} = {i}" for i in range(6))
    (pkg / "small.py").write_text("class Small:\n    x = 1\n")
    (pkg / "sub" / "big.py").write_text("import os\n" * 3 + f"\n\nclass Big:\n{body}\n")
    assert oversized(pkg, max_file=8, max_class=5) == [
        "rubicon/sub/big.py: 12 lines (at most 8)",
        "rubicon/sub/big.py:6: class Big has 7 lines (at most 5)",
    ]
    assert oversized(pkg, max_file=12, max_class=7) == []
