"""The embedded-data scan: what a candidate ships inside its editable files.

Every attack here carries the same payload, ~6 KB of random bytes (the size of a tiny model's
weights at 8 bits), in a different disguise; each must be flagged. Every legitimate program of
the project (workspaces, references, all playbook patches at once) must not be.
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from pathlib import Path

import pytest

from rubicon.errors import ProposalError
from rubicon.measure.embedded import TABLE_NUMBERS, scan
from rubicon.task import builtin_tasks, load_task
from rubicon.types import Edit
from rubicon.workspace import apply_edits

PAYLOAD = random.Random(7).randbytes(6000)
BASE = "import torch\n\n\ndef main():\n    print('training')\n"


def kinds(files: dict[str, str]) -> set[str]:
    return {f.kind for f in scan(files, {"train.py": BASE})}


def test_plain_base64_blob_is_flagged() -> None:
    blob = base64.b64encode(zlib.compress(PAYLOAD)).decode()
    assert "encoded-blob" in kinds({"train.py": BASE + f"W = {blob!r}\n"})


def test_hex_and_escaped_bytes_are_flagged() -> None:
    assert "encoded-blob" in kinds({"train.py": BASE + f"W = bytes.fromhex({PAYLOAD.hex()!r})\n"})
    assert "encoded-blob" in kinds({"train.py": BASE + f"W = {PAYLOAD[:800]!r}\n"})


def test_blob_split_into_many_short_strings_is_flagged() -> None:
    blob = base64.b64encode(PAYLOAD * 2).decode()
    parts = [blob[i:i + 60] for i in range(0, len(blob), 60)]  # each too short to be a "run"
    src = BASE + "W = ''.join([\n" + "".join(f"    {p!r},\n" for p in parts) + "])\n"
    assert "literal-volume" in kinds({"train.py": src})


def test_blob_in_comments_read_back_from_source_is_flagged() -> None:
    blob = base64.b85encode(PAYLOAD).decode()
    comment = "".join(f"# {blob[i:i + 70]}\n" for i in range(0, len(blob), 70))
    found = kinds({"train.py": BASE + comment + "W = open(__file__).read()\n"})
    assert found & {"encoded-blob", "random-literal"}


def test_numeric_tables_are_flagged() -> None:
    weights = [round(x / 255 - 0.5, 4) for x in PAYLOAD[:TABLE_NUMBERS + 10]]
    assert "numeric-table" in kinds({"train.py": BASE + f"W = {weights!r}\n"})
    # the same numbers spread over many small lists still count per file
    rows = "".join(f"R{i} = {list(PAYLOAD[i * 50:(i + 1) * 50])!r}\n" for i in range(40))
    assert "numeric-table" in kinds({"train.py": BASE + rows})


def test_blob_in_a_json_file_is_flagged() -> None:
    cfg = json.dumps({"lr": 0.001, "init": base64.b64encode(PAYLOAD).decode()})
    assert "encoded-blob" in kinds({"train.py": BASE, "config.json": cfg})


def test_invisible_characters_are_flagged() -> None:
    bits = "".join("\u200b" if b & 1 else "\u200c" for b in PAYLOAD[:200])
    assert "invisible" in kinds({"train.py": BASE + f"# notes{bits}\n"})


def test_literals_already_in_the_task_are_not_new_data() -> None:
    blob = base64.b64encode(PAYLOAD).decode()
    base = {"train.py": BASE + f"W = {blob!r}\n"}
    assert scan(dict(base), base) == []


def test_ordinary_code_and_prose_are_not_flagged() -> None:
    prose = " ".join(["the model learns a causal language from data it generates"] * 80)
    rulers = "# " + "=" * 300 + "\n"
    table = f"LR = {[0.1 * i for i in range(50)]!r}\n"
    assert kinds({"train.py": BASE + f'"""{prose}"""\n' + rulers + table}) == set()


@pytest.mark.parametrize("name", sorted(builtin_tasks()))
def test_no_project_program_is_flagged(name: str) -> None:
    """Workspaces, references, every playbook patch alone and all compatible ones at once
    (patches that are alternative fixes of the same text cannot apply together): nothing
    flagged."""
    task = load_task(builtin_tasks()[name])
    base = task.editable_files()
    variants = {"workspace": base}
    if task.reference is not None:
        ref = dict(base)
        for p in sorted(task.reference.rglob("*")):
            if p.is_file():
                ref[str(p.relative_to(task.reference))] = p.read_text()
        variants["reference"] = ref
    if task.playbook:
        edits: list[Edit] = []
        by_name = {patch.name: patch for patch in task.playbook}
        for patch in task.playbook:
            needed, todo = [patch.name], list(patch.requires)
            while todo:  # the patches it requires come first
                name_ = todo.pop()
                if name_ not in needed:
                    needed.insert(0, name_)
                    todo += by_name[name_].requires
            alone = [e for n in needed for e in by_name[n].edits]
            variants[f"patch {patch.name}"] = apply_edits(task, base, alone)
            try:
                variants["playbook"] = apply_edits(task, base, edits + patch.edits)
                edits += patch.edits
            except ProposalError:
                continue  # an alternative to a patch already applied
    for what, files in variants.items():
        assert scan(files, base) == [], f"{name} {what}: {scan(files, base)}"


def test_reference_scan_from_scratch_is_clean() -> None:
    """Even against an empty baseline, the lm-speedrun reference has no finding."""
    task = load_task(builtin_tasks()["lm-speedrun"])
    assert task.reference is not None
    files = {str(p.relative_to(task.reference)): p.read_text()
             for p in Path(task.reference).rglob("*.py")}
    assert scan(files) == []
