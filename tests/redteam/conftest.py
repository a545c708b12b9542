"""Red-team fixtures; the helpers live in _helpers.py (tests import `._helpers`)."""

from ._helpers import demo_copy, outside_tmp

__all__ = ["demo_copy", "outside_tmp"]
