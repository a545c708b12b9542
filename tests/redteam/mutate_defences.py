"""Check that each red-team test depends on its defence (not collected by pytest).

    python tests/redteam/mutate_defences.py NAME [pytest args...]    # one mutation
    python tests/redteam/mutate_defences.py --list

Without pytest args a mutation runs the tests in TESTS_OF (its defence's test files), else the
whole red-team suite.

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
S, T = "runner/sandbox.py", "runner/trial.py"
F, W, J = "runner/_files.py", "runner/_observe.py", "measure/judge.py"
WS, C = "workspace.py", "campaign.py"
BWRAP = 'cmd = ["bwrap", *system_args(), "--dev", "/dev", "--proc", "/proc"]'
# the tests each new defence of issue 18 has (run a mutation against them: NAME TESTS...)
TESTS_OF = {
    "minimal_root": "tests/redteam/test_isolation.py tests/redteam/test_trials.py",
    "root_ro": "tests/redteam/test_cheats.py", "venv_after_tmp": "tests/redteam/test_isolation.py",
    "held_deleted": "tests/redteam/test_resources.py",
    "output_limit": "tests/redteam/test_resources.py",
    "bounded_eval_read": "tests/redteam/test_resources.py",
    "eval_disk": "tests/redteam/test_resources.py", "cpuset": "tests/redteam/test_resources.py",
    "core_check": "tests/redteam/test_resources.py",
    "harness_wins": "tests/redteam/test_resources.py",
    "include_eval": "tests/redteam/test_resources.py",
    "incumbent_eval": "tests/redteam/test_resources.py",
    "ws_nofollow": "tests/redteam/test_isolation.py", "ws_special": "tests/redteam/test_isolation.py",
    "meta_sandboxes": "tests/redteam/test_meta_task.py",
    "parent_death": "tests/runner/test_parent_death.py",
    # issue 22's rd defences (their tests need no sandbox)
    "rd_every_tensor": "tests/task_rd/test_base_distance.py",
    "rd_tensor_cap": "tests/task_rd/test_base_distance.py",
    "w2s_token_rule": "tests/task_rd/test_w2s_by_hand.py",
}
RD, W2SDATA = "task/builtin/_rdbase/gpt.py", "task/builtin/weak-to-strong/evaluator/w2sdata.py"
MUTATIONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "capdrop": (S, [('cmd += ["--cap-drop", "ALL", "--disable-userns"]', "pass")]),
    "hidden_ro": (S, [('cmd += ["--remount-ro", str(h)]', "pass")]),
    "hide_all": (T, [("                hidden=self.hidden,", "                hidden=[],")]),
    "minimal_root": (S, [(BWRAP, BWRAP.replace("*system_args()", '"--ro-bind", "/", "/"'))]),
    "root_ro": (S, [('cmd += ["--remount-ro", "/"]', "pass")]),
    "venv_after_tmp": (S, [(BWRAP, BWRAP.replace("*system_args()",
                                                 "*system_args(), *interpreter_args()")),
                           ("cmd += interpreter_args()  # after /tmp", "pass  # after /tmp")]),
    "netns": (S, [('cmd += ["--unshare-net"]', "pass")]),
    "pidns": (S, [('"--unshare-pid", ', ""), (', "--as-pid-1"]', "]")]),
    "shm_size": (S, [('cmd += ["--size", tmpfs_size, "--tmpfs", "/dev/shm"]',
                      'cmd += ["--tmpfs", "/dev/shm"]')]),
    "tmp_size": (S, [('cmd += ["--size", tmpfs_size, "--tmpfs", "/tmp"]',
                      'cmd += ["--tmpfs", "/tmp"]')]),
    "memcg": (S, [("memory = MemoryGroup.create(mem_limit_mb * 1024 * 1024)",
                   "memory = None")]),
    "pids_cgroup": (S, [("pids = PidsGroup.create(spec.max_processes + 8)", "pids = None")]),
    "rlimit_as": (S, [('opts.append(f"rlimit-as={mem}:{mem}")', "pass")]),
    "fsize": (S, [('opts.append(f"rlimit-fsize={fs}:{fs}")', "pass")]),
    "disk_poll": (W, [("if self.disk is not None and (why := self.disk.excess()):",
                       "if False:")]),
    "final_disk": (S, [("disk_excess = DiskLimit(_disk_roots(spec), spec.disk_mb).excess()",
                        "pass")]),
    "held_deleted": (W, [("held = held_deleted_bytes(self.pids(), self.roots)", "held = 0")]),
    "output_limit": (S, [("output = OutputLimit(spec.log_path, spec.output_mb)", "output = None")]),
    "bounded_eval_read": (T, [('output=read_head_tail(root / "eval.log")',
                               'output=(root / "eval.log").read_text(errors="replace")')]),
    "eval_disk": (T, [('cgroup_note=root / "cgroups-eval",\n                disk_mb=WORKSPACE_DISK_MB,',
                       'cgroup_note=root / "cgroups-eval",')]),
    "cpuset": (S, [("cpuset = CpusetGroup.create(spec.cores)", "cpuset = None")]),
    "core_check": (J, [("    if overrun := cores_overrun(facts):",
                        "    if (overrun := cores_overrun(facts)) and False:")]),
    "harness_wins": (J, [('update={"metrics": {**found, **timed}}',
                          'update={"metrics": {**timed, **found}}')]),
    "include_eval": (J, [("return cls(tuple(task.spec.gates), task.spec.objective.include_evaluator)",
                          "return cls(tuple(task.spec.gates))")]),
    "incumbent_eval": (C, [("needs_eval = metric not in HARNESS_METRICS or self.task.spec.objective"
                            ".include_evaluator", "needs_eval = metric not in HARNESS_METRICS")]),
    "ws_nofollow": (WS, [("_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK",
                          "_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK"),
                         ("st = os.stat(name, dir_fd=dfd, follow_symlinks=False)",
                          "st = os.stat(name, dir_fd=dfd, follow_symlinks=True)"),
                         ("flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC",
                          "flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC")]),
    "ws_special": (WS, [("_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK",
                         "_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW"),
                        ("            elif not stat.S_ISREG(st.st_mode):\n",
                         "            elif False:\n")]),
    "readonly_hash": (J, [("        if seen.readonly_before.get(name) != seen.readonly_after.get(name):",
                           "        if False:")]),
    "artifact_parts": (F, [('return "is a symlink" if p == ws / rel else f"is under a symlink '
                            '({part!r})"', 'if p == ws / rel: return "is a symlink"')]),
    "rm_fallback": (F, [('subprocess.run(["rm", "-rf", "--one-file-system", str(path)],',
                         'subprocess.run(["true"],')]),
    "fixed_seed": (T, [("            seed = secrets.randbelow(2**31 - 1)",
                        "            seed = 12345")]),
    # issue 23: the meta evaluator back inside the trial's sandbox, its inner runs unsandboxed
    "meta_sandboxes": (T, [('return "none", [src]', 'return backend, [src]'),
                           ('"RUBICON_SANDBOX": backend,', '"RUBICON_SANDBOX": "none",')]),
    "parent_death": (S, [('f"parent={os.getpid()}"', '"rlimit-core=0:0"')]),
    # the old rd distance: 2-D tensors only / no cap on a single tensor
    "rd_every_tensor": (RD, [("    for k, b in base.items():\n        b64 = b.double()",
                             "    for k, b in [(k, b) for k, b in base.items() if b.dim() >= 2]:\n"
                             "        b64 = b.double()")]),
    "rd_tensor_cap": (RD, [("    if d and d[worst] > MAX_TENSOR_DISTANCE:", "    if False:")]),
    # the old weak-to-strong rule: whole fault kinds (3 of 4) instead of wrong tokens within each
    "w2s_token_rule": (W2SDATA, [("    return {k: frozenset(rng.sample(VALUES[k], len(VALUES[k]) // 2)) "
                                  "if k in RULE_KINDS else frozenset()",
                                  "    chosen = rng.sample(RULE_KINDS, 3)\n"
                                  "    return {k: frozenset(VALUES[k]) if k in chosen else frozenset()"),
                                 ("        fault = rng.choice(KINDS)\n",  # distractors: kinds outside the rule
                                  "        fault = rng.choice([k for k in KINDS if not rule[k]])\n")]),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] == "--list":
        print("\n".join(MUTATIONS))
        return 0
    name, tests = argv[0], argv[1:] or TESTS_OF.get(argv[0], "tests/redteam").split()
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
