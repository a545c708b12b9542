"""Knowledge brought into a run: the editable-bytes cap and the hold for human review.

Pure judgement over records. The cap is a hard bound (a candidate over it is invalid before it
runs); the embedded-data scan (`embedded.scan`) only flags, and a flagged candidate that would be
promoted is held instead until a person clears its code (`rubicon review`).
"""

from __future__ import annotations

from rubicon.measure.embedded import scan
from rubicon.types import Review, ReviewVerdict, latest_verdict

CLEARED, REJECTED = ReviewVerdict.CLEARED, ReviewVerdict.REJECTED


def over_cap(files: dict[str, str], cap: int) -> str:
    """Why the editable files break the task's `max_editable_bytes`, or "" when they fit."""
    size = sum(len(text.encode("utf-8", "surrogatepass")) for text in files.values())
    if size <= cap:
        return ""
    biggest = max(files, key=lambda f: len(files[f]))
    return (f"the editable files hold {size} bytes, over the task's cap of {cap} "
            f"(max_editable_bytes; the largest is {biggest!r}): knowledge brought from outside "
            "the run costs bytes")


def flags_for(files: dict[str, str], baseline: dict[str, str]) -> list[str]:
    """The embedded-data findings of a candidate's editable files, as text to record."""
    return [str(f) for f in scan(files, baseline)]


def review_hold(promote: bool, flags: list[str], reviews: list[Review]) -> str:
    """The reason a promotion is held, or "" when the decision stands: a flagged candidate is
    never promoted until the latest review of its code clears it."""
    if not promote or not flags:
        return ""
    verdict = latest_verdict(reviews)
    if verdict == CLEARED:
        return ""
    shown = "; ".join(flags[:3]) + (f"; and {len(flags) - 3} more" if len(flags) > 3 else "")
    was = " (its code was rejected on review)" if verdict == REJECTED else ""
    return (f"held for review{was}: it would be promoted, but its editable files look like "
            f"embedded data ({shown}); a person decides with `rubicon review`")
