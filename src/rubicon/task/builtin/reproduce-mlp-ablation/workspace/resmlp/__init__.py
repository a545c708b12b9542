"""resmlp: code for "Residual connections in deep tanh MLPs: a small ablation"."""
