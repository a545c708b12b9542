"""The weak supervisor: a far smaller pretrained model of the same language (weak_base.rbw,
gpt.WEAK_CONFIG: 1 layer of width 32, 16k parameters, built by _rdbase/build.py) with the same
kind of classification head, which the harness fits to a labelled set of its own. As in Burns et
al. (2023), the weak supervisor and the strong student are pretrained models of different
sizes: the weak one knows the language a little, the strong one well.
"""

from __future__ import annotations

from pathlib import Path

import strong
from gpt import WEAK_CONFIG, Classifier, load_weights

WEAK_BASE = Path(__file__).resolve().parent / "weak_base.rbw"


def fit(tokens: list[list[int]], labels: list[int]) -> Classifier:
    """The weak supervisor of one evaluation seed: the weak model's head on the true labels."""
    model = Classifier(WEAK_CONFIG)
    model.load_state_dict(load_weights(WEAK_BASE)[0], strict=False)  # the head starts fresh
    model.eval()
    return strong.fit_head(model, strong.features(model, tokens), [float(y) for y in labels])


def predict_proba(model: Classifier, tokens: list[list[int]]) -> list[float]:
    """P(label = 1) for each document."""
    return strong.predict(model, tokens)
