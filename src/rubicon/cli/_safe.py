"""Candidate output is data: never markup, never a terminal control sequence.

Everything a candidate (or a researcher, or an evaluator reading a candidate's artifacts) can
shape — rationales, reasons, log tails, metrics, file names, diffs — goes through `safe` before
it reaches a rich console: markup brackets are escaped (a `[/dim]` in a reason used to crash
`rubicon run`), and control characters other than newline and tab are shown as `\\xNN` (an
ESC in a log tail would otherwise reach the user's terminal: cursor moves, screen clears,
clipboard writes).
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls but \t and \n, DEL, C1 controls, and the bidi/format overrides that reorder text
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(value: object) -> str:
    """`value` as text with control characters made visible (for markup=False output)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100
                        else f"\\u{ord(m.group(0)):04x}", str(value))


def safe(value: object) -> str:
    """`value` as text to embed in rich markup: controls made visible, markup escaped."""
    return escape(plain(value))
