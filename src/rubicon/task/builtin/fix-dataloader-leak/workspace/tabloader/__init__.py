"""tabloader: train/validation splits, standardization and mini-batches for tabular ML (numpy)."""

from tabloader.loader import Datasets, iter_batches, make_datasets
from tabloader.scaling import Standardizer
from tabloader.split import train_val_split

__all__ = ["Datasets", "Standardizer", "iter_batches", "make_datasets", "train_val_split"]
__version__ = "1.4.0"
