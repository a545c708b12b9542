"""Harness-provided (read-only): runs `python answer.py` and makes sure answers.json exists.

Whatever happens to answer.py (an exception, a missing file), the harness gets an answers.json
(an empty object when answer.py wrote none) and this script exits 0, so a broken repository is
scored (0 answers right) rather than reported as a crash. answer.py's output is shown as is.
"""

import json
import subprocess
import sys
from pathlib import Path

ANSWERS = Path("answers.json")
TIME_LIMIT = 280


def main() -> int:
    ANSWERS.unlink(missing_ok=True)
    try:
        code = subprocess.run([sys.executable, "answer.py"], timeout=TIME_LIMIT, check=False).returncode
    except subprocess.TimeoutExpired:
        code = None
        print(f"run_reproduction: answer.py still running after {TIME_LIMIT} s: stopped")
    if code:
        print(f"run_reproduction: answer.py exited with code {code}")
    try:
        ok = isinstance(json.loads(ANSWERS.read_text()), dict)
    except (OSError, ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        print("run_reproduction: answer.py wrote no answers.json object; recording no answers")
        ANSWERS.write_text("{}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
