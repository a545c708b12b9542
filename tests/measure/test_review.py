"""The editable-bytes cap and the review hold (pure functions)."""

from __future__ import annotations

import base64
import random

from rubicon.measure.review import CLEARED, REJECTED, flags_for, over_cap, review_hold
from rubicon.types import Review


def review(verdict: str) -> Review:
    return Review(campaign_id="c", experiment_id=1, code_hash="h", verdict=verdict,
                  reviewer="ann", reason="looked")


def test_cap_counts_bytes_not_characters() -> None:
    assert over_cap({"a.py": "x" * 100}, 100) == ""
    why = over_cap({"a.py": "é" * 60}, 100)  # 120 bytes in UTF-8
    assert "120 bytes" in why and "cap of 100" in why and "'a.py'" in why


def test_flagged_promotion_is_held_until_cleared() -> None:
    flags = ["train.py:3: encoded-blob: a run of 900 base64-like characters"]
    assert review_hold(False, flags, []) == ""  # nothing to hold
    assert review_hold(True, [], []) == ""  # nothing flagged
    held = review_hold(True, flags, [])
    assert held.startswith("held for review") and "encoded-blob" in held
    assert "rejected" in review_hold(True, flags, [review(REJECTED)])
    assert review_hold(True, flags, [review(REJECTED), review(CLEARED)]) == ""
    assert review_hold(True, flags, [review(CLEARED), review(REJECTED)]) != ""  # latest decides


def test_flags_are_recorded_as_text() -> None:
    blob = base64.b64encode(random.Random(3).randbytes(600)).decode()
    found = flags_for({"train.py": f"W = {blob!r}\n"}, {"train.py": ""})
    assert found and found[0].startswith("train.py:1: encoded-blob")
