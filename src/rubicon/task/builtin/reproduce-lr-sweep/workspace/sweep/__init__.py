"""sweep: code for "Does Adam need warmup at small scale? A learning-rate sweep"."""
