"""Harness-owned evaluator of a fix task: scores results.json (written by the workspace's
check.py) against the expected outputs prepare.py kept in {private}. See fixkit.py.

usage: evaluate.py ARTIFACTS PRIVATE
prints: hidden_passed (fraction of hidden tests passed: the objective), hidden_tests,
cases_matched, visible_passed (fraction of the visible tests check.py reported passing; the
gate), visible_tests
"""

import sys

from fixkit import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main(sys.argv))
