"""Reproduction script: runs the paper's experiments and answers the questions of README.md.

Writes answers.json with one entry per question id (see README.md, "Questions"). Leave an
answer as None (null) when you cannot answer it.
"""

import json

import run_experiments


def main():
    results = run_experiments.main()  # the authors' entry point: trains every variant
    answers = {
        "q1_res6_test_acc": None,
        "q2_plain6_train_loss": None,
        "q3_best_variant": None,
        "q4_res6_epochs_to_90": None,
        "q5_res6_gain_pp": None,
    }
    # TODO: fill in the answers from `results`
    with open("answers.json", "w") as f:
        json.dump(answers, f, indent=2)


if __name__ == "__main__":
    main()
