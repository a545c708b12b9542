"""Reproduction script: runs the paper's sweep and answers the questions of README.md.

Writes answers.json with one entry per question id (see README.md, "Questions"). Leave an
answer as None (null) when you cannot answer it.
"""

import json

import run_sweep


def main():
    runs = run_sweep.main()  # the authors' entry point: every (lr, warmup) run
    answers = {
        "q1_best_lr_no_warmup": None,
        "q2_best_lr_warmup": None,
        "q3_lowest_val_loss": None,
        "q4_val_loss_lr003_no_warmup": None,
        "q5_lrs_helped_by_warmup": None,
    }
    # TODO: fill in the answers from `runs`
    with open("answers.json", "w") as f:
        json.dump(answers, f, indent=2)


if __name__ == "__main__":
    main()
