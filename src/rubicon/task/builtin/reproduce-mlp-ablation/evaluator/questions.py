"""The questions of reproduce-mlp-ablation and their tolerances (harness-owned; README.md lists
them for the researcher)."""

QUESTIONS = {
    "q1_res6_test_acc": {"kind": "number", "atol": 0.004},
    "q2_plain6_train_loss": {"kind": "number", "rtol": 0.001},
    "q3_best_variant": {"kind": "choice"},
    "q4_res6_epochs_to_90": {"kind": "int"},
    "q5_res6_gain_pp": {"kind": "number", "atol": 0.5},
}
