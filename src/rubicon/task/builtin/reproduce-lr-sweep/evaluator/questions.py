"""The questions of reproduce-lr-sweep and their tolerances (harness-owned; README.md lists them
for the researcher)."""

QUESTIONS = {
    "q1_best_lr_no_warmup": {"kind": "number", "rtol": 1e-9},
    "q2_best_lr_warmup": {"kind": "number", "rtol": 1e-9},
    "q3_lowest_val_loss": {"kind": "number", "rtol": 0.001},
    "q4_val_loss_lr003_no_warmup": {"kind": "number", "rtol": 0.001},
    "q5_lrs_helped_by_warmup": {"kind": "int"},
}
