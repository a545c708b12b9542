"""Harness-owned evaluator of reproduce-mlp-ablation: the run's answers.json against the
corrected repository's answers on the same data and seed ({private}). See reprokit.py.

usage: evaluate.py ARTIFACTS PRIVATE
prints: correct (fraction of questions answered within tolerance: the objective), answered,
questions
"""

import sys

from questions import QUESTIONS
from reprokit import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main(sys.argv, QUESTIONS))
