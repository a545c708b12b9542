"""Loading the two-dimensional spirals dataset used in the paper."""

import numpy as np


def load_spirals(path):
    """Return (X_train, y_train, X_test, y_test) from the .npz file at `path`."""
    d = np.load(path)
    X_train = np.asfarray(d["X_train"])
    X_test = np.asfarray(d["X_test"])
    y_train = d["y_train"].astype(np.int64)
    y_test = d["y_test"].astype(np.int64)
    # standardize with training statistics (Sec. 3.1)
    mu, sd = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mu) / sd, y_train, (X_test - mu) / sd, y_test
