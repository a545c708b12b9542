"""Check that each red-team test depends on its defence (not collected by pytest).

    python tests/redteam/mutate_defences.py NAME [pytest args...]    # one mutation
    python tests/redteam/mutate_defences.py --list

Copies src/ to a scratch directory under /var/tmp, removes ONE defence by a text edit, runs the
red-team tests against the copy (PYTHONPATH first) and prints the tests that fail. Results are in
docs/SECURITY.md ("Checked by removing the defence"). Slow: one gauntlet per mutation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
S, T = "runner/sandbox.py", "measure/trial.py"
MUTATIONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "capdrop": (S, [('cmd += ["--cap-drop", "ALL", "--disable-userns"]', "pass")]),
    "hidden_ro": (S, [('cmd += ["--remount-ro", str(h)]', "pass")]),
    "hide_all": (T, [("                hidden=self.hidden,", "                hidden=[],")]),
    "run_hide": (S, [('cmd += ["--tmpfs", "/run", "--remount-ro", "/run"]', "pass")]),
    "netns": (S, [('cmd += ["--unshare-net"]', "pass")]),
    "pidns": (S, [('"--unshare-pid", ', ""), (', "--as-pid-1"]', "]")]),
    "shm_size": (S, [('cmd += ["--size", tmpfs_size, "--tmpfs", "/dev/shm"]',
                      'cmd += ["--tmpfs", "/dev/shm"]')]),
    "tmp_size": (S, [('cmd += ["--size", tmpfs_size, "--tmpfs", "/tmp"]',
                      'cmd += ["--tmpfs", "/tmp"]')]),
    "memcg": (S, [("mem_group = MemoryGroup.create(mem_limit_mb * 1024 * 1024)",
                   "mem_group = None")]),
    "pids_cgroup": (S, [("group = PidsGroup.create(spec.max_processes + 8)", "group = None")]),
    "rlimit_as": (S, [("resource.setrlimit(resource.RLIMIT_AS, (mem, mem))", "pass")]),
    "fsize": (S, [("resource.setrlimit(resource.RLIMIT_FSIZE, (fs, fs))", "pass")]),
    "disk_poll": (S, [("if disk_limit and (why := over_disk()):\n                    killed_reason",
                       "if False:\n                    killed_reason")]),
    "final_disk": (S, [("        killed_reason = why  # a burst", "        pass  # a burst")]),
    "readonly_hash": (T, [("            if after.get(name) != before.get(name):",
                           "            if False:")]),
    "artifact_parts": (T, [('return "is a symlink" if p == ws / rel else f"is under a symlink '
                            '({part!r})"', 'if p == ws / rel: return "is a symlink"')]),
    "rm_fallback": (T, [('subprocess.run(["rm", "-rf", "--one-file-system", str(path)],',
                         'subprocess.run(["true"],')]),
    "fixed_seed": (T, [("            seed = secrets.randbelow(2**31 - 1)",
                        "            seed = 12345")]),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] == "--list":
        print("\n".join(MUTATIONS))
        return 0
    name, tests = argv[0], argv[1:] or ["tests/redteam"]
    rel, edits = MUTATIONS[name]
    root = Path("/var/tmp") / f"rubicon-mutant-{name}-{uuid.uuid4().hex[:6]}"
    try:
        shutil.copytree(REPO / "src", root / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        path = root / "src" / "rubicon" / rel
        text = path.read_text()
        for old, new in edits:
            if text.count(old) != 1:
                print(f"{name}: the defence's code changed ({old!r} found {text.count(old)}x)")
                return 2
            text = text.replace(old, new)
        path.write_text(text)
        env = {**os.environ, "PYTHONPATH": str(root / "src")}
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *tests], cwd=REPO, env=env, capture_output=True, text=True)
        lines = r.stdout.strip().splitlines()
        print(f"== {name}: {lines[-1] if lines else r.stderr[-300:]}")
        for line in lines:
            if line.startswith(("FAILED", "ERROR")):
                print("   ", line[:160])
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
