"""seqtrain: small numpy building blocks for training sequence models (losses, metrics)."""

from seqtrain.losses import log_softmax, masked_cross_entropy
from seqtrain.metrics import masked_accuracy, perplexity, sequence_lengths

__all__ = [
    "log_softmax",
    "masked_accuracy",
    "masked_cross_entropy",
    "perplexity",
    "sequence_lengths",
]
__version__ = "0.3.1"
