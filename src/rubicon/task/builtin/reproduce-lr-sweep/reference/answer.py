"""Reproduction script: runs the paper's sweep and answers the questions of README.md.

Writes answers.json with one entry per question id (see README.md, "Questions"). Leave an
answer as None (null) when you cannot answer it.
"""

import json

import run_sweep


def main():
    runs = run_sweep.main()  # the authors' entry point: every (lr, warmup) run
    final = {(r["lr"], r["warmup"]): r["final_val_loss"] for r in runs}
    lrs = sorted({lr for lr, _ in final})
    answers = {
        "q1_best_lr_no_warmup": min(lrs, key=lambda lr: final[lr, 0]),
        "q2_best_lr_warmup": min(lrs, key=lambda lr: final[lr, 20]),
        "q3_lowest_val_loss": min(final.values()),
        "q4_val_loss_lr003_no_warmup": final[0.03, 0],
        "q5_lrs_helped_by_warmup": sum(1 for lr in lrs if final[lr, 20] < final[lr, 0]),
    }
    with open("answers.json", "w") as f:
        json.dump(answers, f, indent=2)


if __name__ == "__main__":
    main()
