"""Red-team fixtures; the helpers live in _helpers.py (tests import `._helpers`).

The red-team suite proves the bubblewrap sandbox's defences: where bwrap is not the backend,
every test here is skipped with the reason shown.
"""

from __future__ import annotations

import pytest

from rubicon.runner import detect_backend

from ._helpers import demo_copy, outside_tmp

__all__ = ["demo_copy", "outside_tmp"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = detect_backend()
    if backend == "bwrap":
        return
    skip = pytest.mark.skip(reason=f"the red-team suite needs the bwrap sandbox (here: {backend})")
    for item in items:
        if "redteam" in item.path.parts:
            item.add_marker(skip)
