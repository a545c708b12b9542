"""tinybpe: a small byte-level BPE tokenizer (train on text, encode, decode, save, load)."""

from tinybpe.pretokenize import split_chunks
from tinybpe.tokenizer import Tokenizer, apply_merge, pair_counts

__all__ = ["Tokenizer", "apply_merge", "pair_counts", "split_chunks"]
__version__ = "0.2.0"
