"""Reading run files into :class:`RunRecords`: JSONL (columnar fast path), Inspect logs.

A JSONL file is first read by pyarrow's multithreaded JSON reader, keeping only the columns a
horizon needs, so memory stays proportional to those columns (about 50 bytes a run) whatever
else the rows carry. Anything the fast path cannot vouch for - a parse error, a non-UTF-8
byte, a missing or null field, a score outside [0, 1], a task in two families, an untimed
task - sends the file to the line-by-line reader, which streams into the same compact
columns and raises the exact message (file, line, field). Without pyarrow every file takes
the line-by-line path (same results, slower).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rubicon.analytics._records import (
    SCORE_FIELDS,
    RunRecords,
    Table,
    parse_date,
)
from rubicon.errors import AnalyticsError

INSPECT_INSTALL = "pip install inspect_ai"
_COLUMNS = ("run_id", "task_id", "task_family", "alias", "human_minutes", *SCORE_FIELDS,
            "release_date")


def _utf8(raw: bytes, path: Path, n: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AnalyticsError(
            f"{path}, line {n}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
            f"{e.start + 1}); run files must be UTF-8 JSON lines - is this a binary file?"
        ) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[Mapping[str, Any], str]]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            line = _utf8(raw, path, n)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise AnalyticsError(f"{path}, line {n}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise AnalyticsError(f"{path}, line {n}: expected a JSON object per line")
            yield row, f"{path}, line {n}"


def _arrow_jsonl(path: Path, table: Table, file_idx: int) -> bool:
    """Columnar read of a clean JSONL file; False (nothing added) when it needs the slow path."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as pj
    except ImportError:
        return False
    fields = [(c, pa.string()) for c in ("run_id", "task_id", "task_family", "alias")]
    fields += [(c, pa.float64()) for c in ("human_minutes", *SCORE_FIELDS)]
    fields.append(("release_date", pa.string()))
    opts = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    try:
        tbl = pj.read_json(path, parse_options=opts,
                           read_options=pj.ReadOptions(block_size=1 << 22))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, UnicodeError):
        return False
    if tbl.num_rows == 0:
        return False
    for c in ("task_id", "task_family", "alias", "human_minutes"):
        if tbl.column(c).null_count:
            return False  # missing/null field or untimed task: exact handling line by line
    score = pc.coalesce(*(tbl.column(c) for c in SCORE_FIELDS))
    if score.null_count:
        return False
    s = score.to_numpy()
    m = tbl.column("human_minutes").to_numpy()
    if not (np.all((s >= 0) & (s <= 1)) and np.all(np.isfinite(m) & (m > 0))):
        return False

    def codes(col: str) -> tuple[np.ndarray[Any, Any], list[str]]:
        enc = tbl.column(col).combine_chunks().dictionary_encode()
        return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()

    ti, tnames = codes("task_id")
    fi, fnames = codes("task_family")
    ai, anames = codes("alias")
    pairs = np.unique(ti.astype(np.int64) * len(fnames) + fi)
    ptask, pfam = (pairs // len(fnames)).tolist(), (pairs % len(fnames)).tolist()
    if len(pairs) != len(tnames):
        return False  # a task in two families: the line-by-line reader names the lines
    for tc, fc in zip(ptask, pfam, strict=True):
        known = table.tasks.index.get(tnames[tc])
        if known is not None and table.families.names[table.task_family[known]] != fnames[fc]:
            return False  # in another family in an earlier file: same
    tglob = table.tasks.codes(tnames)
    fglob = table.families.codes(fnames)
    for tc, fc in zip(ptask, pfam, strict=True):
        table.check_family(int(tglob[tc]), int(fglob[fc]), str(path))
    runs = tbl.column("run_id")
    run_names: Any = []
    if runs.null_count == len(runs):
        run = np.full(len(s), -1, dtype=np.int64)
    else:
        enc = runs.combine_chunks().dictionary_encode()
        run = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        run_names = enc.dictionary
    rel = tbl.column("release_date")
    if rel.null_count < len(rel):
        dated = tbl.filter(pc.is_valid(rel))
        for name, value in zip(dated.column("alias").to_pylist(),
                               dated.column("release_date").to_pylist(), strict=True):
            if value:
                table.release[name] = parse_date(value, f"{path}: field 'release_date'")
    agent = table.agents.codes(anames)[ai]
    table.append(agent, tglob[ti], run, m.astype(np.float64), s.astype(np.float64), file_idx,
                 run_names)
    return True


def _inspect_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        letter = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}.get(value.upper())
        if letter is not None:
            return letter
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _first_line(err: Any) -> str:
    msg = getattr(err, "message", None) or str(err)
    return str(msg).strip().splitlines()[0][:200] if str(msg).strip() else "no message"


def _inspect_rows(path: Path, skip_errored: bool,
                  notes: list[str]) -> list[tuple[Mapping[str, Any], str]]:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise AnalyticsError(
            f"{path} looks like an Inspect eval log; reading it needs inspect_ai: {INSPECT_INSTALL}"
        ) from None
    try:
        log = read_eval_log(str(path))
    except Exception as e:  # inspect raises many types for unreadable logs
        raise AnalyticsError(f"{path}: not a readable Inspect eval log ({e})") from None
    model = str(log.eval.model)
    task_name = str(log.eval.task)
    eval_id = getattr(log.eval, "eval_id", None) or getattr(log.eval, "run_id", None)
    task_meta = dict(getattr(log.eval, "metadata", None) or {})
    status = str(getattr(log, "status", "success"))
    rows: list[tuple[Mapping[str, Any], str]] = []
    errored: list[str] = []
    for sample in log.samples or []:
        meta = {**task_meta, **dict(sample.metadata or {})}
        scores = sample.scores or {}
        value = next(iter(scores.values())).value if scores else None
        where = f"{path}, sample {sample.id!r} (epoch {sample.epoch})"
        error = getattr(sample, "error", None)
        if error is not None or (not scores and status in ("error", "cancelled")):
            why = (f"the sample errored: {_first_line(error)}" if error is not None else
                   f"the eval log's status is {status!r}"
                   + (f" ({_first_line(log.error)})" if getattr(log, "error", None) else ""))
            if not skip_errored:
                raise AnalyticsError(
                    f"{where} has no score: {why}. Re-run it, or pass --skip-errored "
                    "(API: skip_errored=True) to leave errored samples out; they are counted "
                    "and reported"
                )
            errored.append(str(sample.id))
            continue
        s = _inspect_score(value)
        if s is None:
            raise AnalyticsError(
                f"{where} has score {value!r}; expected C/I, a bool or a number in [0, 1]"
            )
        row: dict[str, Any] = {
            "run_id": f"{eval_id or task_name}/{sample.id}#{sample.epoch}",
            "task_id": str(meta.get("task_id", f"{task_name}/{sample.id}")),
            "task_family": str(meta.get("task_family", task_name)),
            "alias": str(meta.get("alias", model)),
            "human_minutes": meta.get("human_minutes"),
            "score_binarized": s,
        }
        if meta.get("release_date"):
            row["release_date"] = meta["release_date"]
        rows.append((row, where))
    if errored:
        shown = ", ".join(errored[:5]) + (f" and {len(errored) - 5} more" if len(errored) > 5 else "")
        notes.append(f"{path}: skipped {len(errored)} errored sample(s) ({shown}); "
                     "they count neither as successes nor as failures")
    return rows


def _files(path: Path) -> list[Path]:
    if path.is_dir() and (path / "bench.json").is_file():  # a `rubicon bench` directory
        runs = path / "runs.jsonl"
        if not runs.is_file():
            raise AnalyticsError(f"{path}: bench directory without runs.jsonl yet (no attempt "
                                 "has finished); run or resume the bench first")
        return [runs]
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.suffix in (".jsonl", ".eval", ".json") and p.is_file()
        )
        if not found:
            raise AnalyticsError(f"{path}: directory has no .jsonl, .eval or .json run files")
        return found
    if not path.exists():
        raise AnalyticsError(f"{path}: no such file")
    return [path]


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _unique_files(paths: Sequence[str | Path], notes: list[str]) -> list[Path]:
    """All files under ``paths``, each once: the same path twice, or two files with the same
    bytes, are read once (with a note)."""
    out: list[Path] = []
    seen: dict[Path, Path] = {}
    by_size: dict[int, list[Path]] = {}
    digests: dict[Path, str] = {}
    for p in paths:
        for f in _files(Path(p)):
            real = f.resolve()
            if real in seen:
                notes.append(f"{f}: given twice; read once")
                continue
            size = f.stat().st_size
            twin = None
            for other in by_size.get(size, []):
                for q in (other, f):
                    if q not in digests:
                        digests[q] = _digest(q)
                if digests[other] == digests[f]:
                    twin = other
                    break
            if twin is not None:
                notes.append(f"{f}: same content as {twin}; read once")
                seen[real] = f
                continue
            seen[real] = f
            by_size.setdefault(size, []).append(f)
            out.append(f)
    return out


def load_runs(
    paths: str | Path | Sequence[str | Path],
    drop_untimed: bool = False,
    skip_errored: bool = False,
) -> RunRecords:
    """Load run records from METR runs.jsonl, rubicon bench JSONL or Inspect eval logs.

    Args:
        paths: one or more files or directories (``.jsonl``; ``.eval``/``.json`` Inspect logs).
        drop_untimed: drop runs on tasks without a human time instead of raising.
        skip_errored: leave out Inspect samples that errored (counted in ``notes``) instead
            of raising.

    Returns:
        The validated records of all files together; ``notes`` says what was dropped.

    Raises:
        AnalyticsError: a file is missing, not UTF-8 or malformed (file, line and field are
            named), a run appears twice with different results, or Inspect logs are given
            without ``inspect_ai`` installed (the message names ``pip install inspect_ai``).
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    table = Table(drop_untimed)
    for k, f in enumerate(_unique_files(paths, table.notes)):
        table.sources.append(str(f))
        if f.suffix == ".jsonl":
            if not _arrow_jsonl(f, table, k):
                table.add_rows(_jsonl_rows(f), k)
        elif f.suffix in (".eval", ".json"):
            table.add_rows(_inspect_rows(f, skip_errored, table.notes), k)
        else:
            raise AnalyticsError(
                f"{f}: unknown run file type {f.suffix!r}; use .jsonl (METR / rubicon bench "
                "runs) or .eval/.json (Inspect logs)"
            )
    return table.finish()


def load_release_dates(path: str | Path) -> dict[str, dt.date]:
    """Read release dates per agent alias.

    Accepts JSON (``{"alias": "YYYY-MM-DD"}``), CSV with ``alias,release_date`` columns, or the
    simple YAML of METR's release_dates.yaml (``alias: YYYY-MM-DD`` lines, optionally under a
    ``date:`` key).

    Args:
        path: the file.

    Returns:
        alias -> release date.

    Raises:
        AnalyticsError: the file is missing, not UTF-8, or a line cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise AnalyticsError(f"{p}: no such release-dates file")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        at = raw[: e.start].count(b"\n") + 1
        raise AnalyticsError(f"{p}, line {at}: not UTF-8 text (byte 0x{raw[e.start]:02x})") \
            from None
    out: dict[str, dt.date] = {}
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise AnalyticsError(f"{p}: not valid JSON ({e.msg})") from None
        if isinstance(data, dict) and isinstance(data.get("date"), dict):
            data = data["date"]
        if not isinstance(data, dict):
            raise AnalyticsError(f"{p}: expected an object mapping alias to date")
        return {str(k): parse_date(v, f"{p}: {k}") for k, v in data.items()}
    if p.suffix == ".csv":
        import csv

        reader = csv.DictReader(text.splitlines())
        cols = reader.fieldnames or []
        if "alias" not in cols or "release_date" not in cols:
            raise AnalyticsError(f"{p}: CSV needs columns alias,release_date; found {cols}")
        for n, r in enumerate(reader, start=2):
            out[r["alias"]] = parse_date(r["release_date"], f"{p}, line {n}")
        return out
    for n, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].rstrip()
        if not body.strip():
            continue
        key, sep, value = body.strip().rpartition(":")
        if not sep:
            raise AnalyticsError(f"{p}, line {n}: expected 'alias: YYYY-MM-DD', found {line!r}")
        if not value.strip() and not line.startswith(" "):
            continue  # a section header such as 'date:'
        out[key.strip().strip("'\"")] = parse_date(value, f"{p}, line {n}")
    if not out:
        raise AnalyticsError(f"{p}: no 'alias: YYYY-MM-DD' lines found")
    return out
