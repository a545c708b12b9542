"""Embedded-data scan: flags knowledge brought into a run inside the editable files.

A candidate can skip the work it is measured on by shipping its result: weights trained
elsewhere, compressed and base64-encoded in a string, spread over many short strings, written
as a table of numbers, or hidden in comments that the program reads back from its own source.
All of these cost bytes of *information*, so the scan looks at what was added relative to the
task's own workspace and flags:

- encoded blobs: long runs of base64, base85 or hex characters, and literals that look random
  (little whitespace, text that zlib cannot compress);
- very long literals (one string, bytes literal or comment block);
- numeric tables: many number literals in one display, or in one file;
- much literal text in total (a blob cut into many small strings);
- invisible characters (control, zero-width, private-use code points) that can carry data.

A flag is not a verdict: the campaign holds a flagged candidate back from promotion until a
person clears it (`rubicon review`). The editable-bytes cap of a task (task.toml
`max_editable_bytes`) is the hard bound; this scan is the detector below it. Pure functions:
no I/O, no imports of the runner.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import unicodedata
import zlib
from dataclasses import dataclass

# Thresholds, chosen so that the project's own tasks, references and every playbook variant
# pass with a wide margin (tests/measure/test_embedded.py checks that), while a model of even
# a few thousand parameters cannot hide below all of them at once.
BLOB_RUN = 160  # characters of base64/base85/hex alphabet without a break
RANDOM_LITERAL = 200  # literal length from which the compressibility test applies
RANDOM_RATIO = 0.62  # zlib size / raw size above which text looks like encoded data
LONG_LITERAL = 6000  # one literal (or run of comments) longer than this
TABLE_NUMBERS = 200  # number literals in one list/tuple/set/dict display
FILE_NUMBERS = 1500  # number literals in one file
TOTAL_LITERAL = 12_000  # characters of string literals and comments added, all files (the
# project's largest training script has ~2,300)
INVISIBLE = 16  # invisible code points in one file

_B64 = re.compile(r"[A-Za-z0-9+/=_\-]{" + str(BLOB_RUN) + ",}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}|\\x[0-9a-fA-F]{2}){" + str(BLOB_RUN // 2) + ",}")
_B85 = re.compile(r"[!-u]{" + str(BLOB_RUN * 2) + ",}")  # ascii85/base85: nearly all printables


@dataclass(frozen=True)
class Finding:
    """One reason to hold a candidate for review."""

    file: str
    line: int
    kind: str  # encoded-blob | random-literal | long-literal | numeric-table | literal-volume | invisible
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class _Literal:
    line: int
    text: str  # source text without prefix and quotes (escapes kept: they are the data)
    value: str | bytes | None = None  # the evaluated literal, when it is a plain one


def scan(files: dict[str, str], baseline: dict[str, str] | None = None) -> list[Finding]:
    """Findings for the editable files `files`, ignoring literals present in `baseline`.

    Args:
        files: workspace-relative path -> text of every editable file of the candidate.
        baseline: the task's own files; a literal that also appears there is not new data.
    """
    baseline = baseline or {}
    known = _known_literals(baseline)
    findings: list[Finding] = []
    total = 0
    for name in sorted(files):
        text = files[name]
        findings += _invisible(name, text)
        literals = [lit for lit in _literals(name, text) if lit.text not in known]
        total += sum(len(lit.text) for lit in literals)
        flagged = False
        for lit in literals:
            f = _judge_literal(name, lit)
            if f is not None:
                findings.append(f)
                flagged = True
        if not flagged:
            findings += _split_blob(name, literals)
        if name.endswith(".py"):
            findings += _numeric_tables(name, text, baseline.get(name, ""))
    if total > TOTAL_LITERAL:
        findings.append(Finding("*", 0, "literal-volume",
                                f"{total} characters of new string literals and comments "
                                f"(more than {TOTAL_LITERAL})"))
    return findings


def _known_literals(files: dict[str, str]) -> set[str]:
    out: set[str] = set()
    for name, text in files.items():
        out.update(lit.text for lit in _literals(name, text))
    return out


def _literals(name: str, text: str) -> list[_Literal]:
    """String/bytes literals and comment runs of a Python file; whole lines of anything else."""
    if not name.endswith(".py"):
        return [_Literal(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    out: list[_Literal] = []
    comments: list[str] = []
    start = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                if not comments:
                    start = tok.start[0]
                comments.append(tok.string.lstrip("#").strip())
                continue
            if tok.type in (tokenize.NL, tokenize.NEWLINE):
                continue
            if comments:
                out.append(_Literal(start, "".join(comments)))
                comments = []
            if tok.type == tokenize.STRING:
                out.append(_Literal(tok.start[0], _string_body(tok.string), _value(tok.string)))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # Unparseable source cannot hide behind the tokenizer: judge it line by line.
        return [_Literal(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if comments:
        out.append(_Literal(start, "".join(comments)))
    return out


def _value(token: str) -> str | bytes | None:
    try:
        v = ast.literal_eval(token)
    except (ValueError, SyntaxError):  # f-strings and the like
        return None
    return v if isinstance(v, str | bytes) else None


def _string_body(token: str) -> str:
    """The literal's source text without prefix and quotes (escapes kept: they are the data)."""
    body = token.lstrip("rRbBuUfF")
    for q in ('"""', "'''", '"', "'"):
        if body.startswith(q) and body.endswith(q) and len(body) >= 2 * len(q):
            return body[len(q):-len(q)]
    return body


def _split_blob(name: str, literals: list[_Literal]) -> list[Finding]:
    """A blob cut into pieces, each too short to be judged alone: judge the pieces joined."""
    pieces = [lit for lit in literals if len(lit.text) >= 16 and lit.text.count(" ") < 0.05 * len(lit.text)]
    joined = "".join(lit.text for lit in pieces)
    if len(joined) < RANDOM_LITERAL or len(pieces) < 2:
        return []
    f = _judge_literal(name, _Literal(pieces[0].line, joined))
    if f is None:
        return []
    return [Finding(name, f.line, f.kind, f"{f.detail}, split over {len(pieces)} literals")]


def _judge_literal(name: str, lit: _Literal) -> Finding | None:
    text = lit.text
    decoded = _decoded(lit)
    if decoded is not None and len(decoded) >= RANDOM_LITERAL // 2:
        ratio = len(zlib.compress(decoded, 9)) / len(decoded)
        if ratio >= 0.85:
            return Finding(name, lit.line, "encoded-blob",
                           f"{len(decoded)} bytes written as escapes that do not compress "
                           f"(zlib ratio {ratio:.2f})")
    for pattern, what in ((_HEX, "hex"), (_B64, "base64-like"), (_B85, "base85-like")):
        m = pattern.search(text)
        if m and _looks_encoded(m.group(0)):
            return Finding(name, lit.line, "encoded-blob",
                           f"a run of {len(m.group(0))} {what} characters")
    if len(text) >= RANDOM_LITERAL:
        raw = text.encode("utf-8", "surrogatepass")
        ratio = len(zlib.compress(raw, 9)) / len(raw)
        spaces = text.count(" ") / len(text)
        if ratio >= RANDOM_RATIO and spaces < 0.05:
            return Finding(name, lit.line, "random-literal",
                           f"{len(text)} characters that do not compress "
                           f"(zlib ratio {ratio:.2f}, {spaces:.0%} spaces)")
    if len(text) > LONG_LITERAL:
        return Finding(name, lit.line, "long-literal",
                       f"one literal or comment block of {len(text)} characters "
                       f"(more than {LONG_LITERAL})")
    return None


def _decoded(lit: _Literal) -> bytes | None:
    """The value behind a literal written mostly as escapes (\\xNN, \\uNNNN), else None."""
    text = lit.text
    escapes = text.count("\\x") + text.count("\\u") + text.count("\\U")
    if escapes < 32 or escapes * 3 < len(text) // 4:
        return None
    if isinstance(lit.value, bytes):
        return lit.value
    if isinstance(lit.value, str):
        return lit.value.encode("utf-8", "surrogatepass")
    return None


def _looks_encoded(run: str) -> bool:
    """A long alphabet run that is not an identifier-like word or a repeated pattern."""
    distinct = len(set(run))
    if distinct < 12:  # "=====", "----", "abababab": rulers and padding, not data
        return False
    raw = run.encode()
    return len(zlib.compress(raw, 9)) / len(raw) > 0.45


def _numeric_tables(name: str, text: str, base_text: str) -> list[Finding]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []  # the tokenizer-level checks still ran; a syntax error fails the run anyway
    base_count = _count_numbers(base_text)
    out: list[Finding] = []
    total = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and _is_number(node.value):
            total += 1
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            elts = node.values if isinstance(node, ast.Dict) else node.elts
            n = sum(1 for e in elts if _is_number_node(e))
            if n >= TABLE_NUMBERS:
                out.append(Finding(name, node.lineno, "numeric-table",
                                   f"{n} number literals in one display"))
    if total - base_count > FILE_NUMBERS:
        out.append(Finding(name, 1, "numeric-table",
                           f"{total - base_count} new number literals in the file "
                           f"(more than {FILE_NUMBERS})"))
    return out


def _count_numbers(text: str) -> int:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return 0
    return sum(1 for n in ast.walk(tree) if isinstance(n, ast.Constant) and _is_number(n.value))


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | complex) and not isinstance(v, bool)


def _is_number_node(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and _is_number(node.value)


def _invisible(name: str, text: str) -> list[Finding]:
    n = 0
    first = 0
    for i, ch in enumerate(text):
        if ch in "\n\r\t":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cn", "Cs"):
            n += 1
            first = first or text.count("\n", 0, i) + 1
    if n >= INVISIBLE:
        return [Finding(name, first, "invisible",
                        f"{n} invisible or control characters (they can carry data)")]
    return []
