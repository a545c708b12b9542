"""Pre-tokenization: text is cut into chunks first, and merges never cross a chunk boundary.

A chunk is a run of letters, of up to three digits, of other symbols (each optionally led by one
space), or of whitespace. Joining the chunks gives back the text exactly.
"""

from __future__ import annotations

import re

CHUNK = re.compile(r" ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+(?!\S)|\s+|_+")


def split_chunks(text: str) -> list[str]:
    """The chunks of `text`, in order; "".join(split_chunks(text)) == text."""
    return CHUNK.findall(text)
