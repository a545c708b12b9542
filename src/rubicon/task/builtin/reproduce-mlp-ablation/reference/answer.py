"""Reproduction script: runs the paper's experiments and answers the questions of README.md.

Writes answers.json with one entry per question id (see README.md, "Questions"). Leave an
answer as None (null) when you cannot answer it.
"""

import json

import run_experiments


def main():
    results = run_experiments.main()  # the authors' entry point: trains every variant
    final = {name: r["history"][-1] for name, r in results.items()}
    reached = [h["epoch"] for h in results["res-6"]["history"] if h["train_acc"] >= 0.9]
    best = max(final, key=lambda name: final[name]["test_acc"])  # first of equals wins
    answers = {
        "q1_res6_test_acc": final["res-6"]["test_acc"],
        "q2_plain6_train_loss": final["plain-6"]["train_loss"],
        "q3_best_variant": best,
        "q4_res6_epochs_to_90": reached[0] if reached else None,
        "q5_res6_gain_pp": 100 * (final["res-6"]["test_acc"] - final["plain-6"]["test_acc"]),
    }
    with open("answers.json", "w") as f:
        json.dump(answers, f, indent=2)


if __name__ == "__main__":
    main()
