"""The code in docs/API.md runs as written: its ```python blocks, in order, in an empty directory.

A block whose info string says `file=NAME` is written to NAME (a module the later blocks import);
the others are joined into one script. The snippets assert what they claim (the same researcher
comes back on reopen, a custom researcher and a custom task end to end)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "API.md"
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str | None, str]]:
    out = []
    for info, code in BLOCK.findall(API.read_text()):
        m = re.search(r"file=(\S+)", info)
        out.append((m.group(1) if m else None, code))
    return out


def test_docs_have_the_promised_sections() -> None:
    text = API.read_text()
    for heading in ("## Ask and tell", "## Reopen a campaign", "## A custom researcher",
                    "## A custom task", "## Public names"):
        assert heading in text
    files = [name for name, _ in blocks() if name]
    assert files == ["my_researchers.py"]


def test_api_snippets_run(tmp_path: Path) -> None:
    script = []
    for name, code in blocks():
        if name:
            (tmp_path / name).write_text(code)
        else:
            script.append(code)
    (tmp_path / "snippets.py").write_text("\n".join(script))
    # the snippets build their own configs; outside settings must not leak in
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUBICON_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(tmp_path),
                                         env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "snippets.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "best: #" in out
    assert "search {'seed': 1}" in out
    assert "my_researchers:CutoffSweep" in out
    assert re.search(r"squares: #\d+ ok", out), out
    assert f"file {tmp_path.resolve() / 'rubicon.toml'}" in out
