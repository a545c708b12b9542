"""Shared by the `llm` and `command` researchers: what to work on next, what to tell the
agent, and how to read a language model's reply.

Everything here is derived from the `ResearchContext` (the store), so a resumed campaign picks
up exactly where it stopped: which line of work, whether the last failure still needs a debug
step, how many tokens and dollars were already spent.

Reply format (documented for users in docs/RESEARCHERS.md, section "llm"):

    RATIONALE: one line: what changes and why it should help

    <<<<<<< SEARCH solution.py
    exact lines copied from the current file
    =======
    the lines that replace them
    >>>>>>> REPLACE

    <<<<<<< FILE knobs.json
    the complete new content of the file
    >>>>>>> END

Blocks are applied in order (a later block sees the result of earlier ones). Text outside blocks
(prose, code fences) is ignored, except the `RATIONALE:` line. Marker lines must appear exactly
as shown, alone on their line.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rubicon.errors import ProposalError
from rubicon.researcher import ResearchContext
from rubicon.types import Edit, Experiment, Proposal, State
from rubicon.workspace import apply_edits, code_hash

# Failures a debug step can plausibly fix. `tampered` (a cheat) and `invalid` (the proposal
# itself was unusable) are not debugged.
DEBUGGABLE = (State.CRASHED, State.TIMED_OUT, State.GATE_FAILED)

REPLY_FORMAT = """\
Reply with a one-line rationale and one or more edit blocks, exactly in this format:

RATIONALE: <one line: what you change and why it should make the objective better>

<<<<<<< SEARCH <path of an editable file>
<lines copied exactly, including indentation, from the current file; they must occur once>
=======
<the lines that replace them>
>>>>>>> REPLACE

To create a file or replace a whole file, use instead:

<<<<<<< FILE <path of an editable file>
<the complete new content of the file>
>>>>>>> END

Rules: marker lines stand alone on their line, exactly as shown. Blocks are applied in order.
Keep SEARCH parts short but unique. Edit only editable files. Do not explain beyond the
rationale."""

SYSTEM_PROMPT = """\
You are an expert ML and performance engineer working inside rubicon, an automated research lab.
You propose one focused change at a time to a program. rubicon runs every candidate in a
sandbox, measures it against the current best with repeated timed runs, checks correctness
gates on held-out data, and decides what to keep. Nothing you claim is trusted: only the
measurement counts. Cheating (changing timers, the harness, hard-coding answers) is detected
and recorded as tampering.

""" + REPLY_FORMAT


class ReplyError(ValueError):
    """A model reply that cannot be used; the message is shown to the model on retry."""


# -------------------------------------------------------------------------------------------
# what to work on next


@dataclass
class Plan:
    """The next step: improve `parent`, or debug `failed` (then parent is the failed one)."""

    parent: Experiment
    mode: str  # "improve" | "debug"
    failed: Experiment | None = None
    debug_depth: int = 0
    pool: list[int] = field(default_factory=list)  # ids of the lines of work considered

    def meta(self) -> dict[str, Any]:
        m: dict[str, Any] = {"mode": self.mode, "debug_depth": self.debug_depth}
        if self.failed is not None:
            m["debug_of"] = self.failed.id
        return m


def _better_first(ctx: ResearchContext) -> Iterator[Experiment]:
    """Passing experiments, best objective first (light records, read as consumed)."""
    maximize = ctx.task.spec.objective.direction == "maximize"
    return ctx.history.where(states=[State.OK]).best(maximize)


def parent_pool(ctx: ResearchContext, lines: int) -> list[Experiment]:
    """The incumbent first, then the best other passing experiments (distinct code), up to
    `lines` in all: the parallel lines of work a step may continue."""
    pool = [ctx.incumbent]
    seen = {code_hash(ctx.incumbent.files)}
    for e in _better_first(ctx):
        if len(pool) >= lines:
            break
        if e.id == ctx.incumbent.id:
            continue
        full = ctx.history.by_id(e.id)
        h = code_hash(full.files)
        if h in seen:
            continue
        seen.add(h)
        pool.append(full)
    return pool


def choose_plan(ctx: ResearchContext, name: str, lines: int = 3, explore: float = 0.25,
                max_debug: int = 2) -> Plan:
    """Debug the last failure of this researcher if its debug chain is short enough;
    otherwise improve the incumbent, or (with probability `explore`) another of the best
    `lines` experiments. Deterministic given the history and the campaign seed."""
    latest = ctx.history.where(researcher=name).recent(1)
    last = latest[0] if latest else None
    if last is not None and last.state in DEBUGGABLE:
        depth = int(last.meta.get("debug_depth", 0) or 0)
        if depth < max_debug:
            return Plan(parent=last, mode="debug", failed=last, debug_depth=depth + 1)
    pool = parent_pool(ctx, max(1, lines))
    rng = random.Random(f"{ctx.seed}:{len(ctx.history)}")
    parent = pool[0]
    if len(pool) > 1 and rng.random() < explore:
        parent = rng.choice(pool[1:])
    return Plan(parent=parent, mode="improve", pool=[e.id for e in pool])


def spent(ctx: ResearchContext, name: str) -> tuple[int, float]:
    """Tokens (in + out) and dollars recorded so far by researcher `name` in this campaign."""
    total = ctx.history.where(researcher=name).sum_meta("tokens_in", "tokens_out", "cost_usd")
    return int(total["tokens_in"] + total["tokens_out"]), total["cost_usd"]


def invalid_in_row(ctx: ResearchContext, name: str) -> int:
    """How many of this researcher's latest experiments in a row were invalid."""
    n = 0
    for e in reversed(ctx.history.where(researcher=name).light):
        if e.state != State.INVALID:
            break
        n += 1
    return n


def unusable(name: str, args: dict[str, Any], plan: Plan, error: str,
             meta: dict[str, Any]) -> Proposal:
    """A proposal the campaign records as `invalid` with `error` as reason: no edits, and the
    error in `meta["error"]` (the campaign turns that into the recorded reason). Its meta keeps
    the tokens and cost spent, so budgets stay exact."""
    return Proposal(
        parent_id=plan.parent.id, edits=[], rationale=f"no usable proposal: {error[:300]}",
        researcher=name, researcher_args=dict(args),
        meta={**plan.meta(), **meta, "error": error},
    )


# -------------------------------------------------------------------------------------------
# what to tell the model / agent


def _fmt_num(x: float | None, suffix: str = "") -> str:
    return "-" if x is None else f"{x:.4g}{suffix}"


def _tail(text: str, lines: int = 8, chars: int = 800) -> str:
    t = "\n".join(text.strip().splitlines()[-lines:])
    return t[-chars:]


def history_text(ctx: ResearchContext, limit: int = 40, tails: int = 4) -> str:
    """One line per experiment (latest `limit`), with the error tails of the last failures."""
    obj = ctx.task.spec.objective
    out = [
        f"objective: {obj.direction} {obj.metric}; baseline #{ctx.baseline.id} = "
        f"{_fmt_num(ctx.baseline.objective)}; current best (incumbent) #{ctx.incumbent.id} = "
        f"{_fmt_num(ctx.incumbent.objective)}, speedup {_fmt_num(ctx.incumbent.speedup, 'x')}",
    ]
    tried = ctx.history.where(min_seq=1)  # not the baseline
    shown = tried.light.recent(limit)
    hidden = len(tried) - len(shown)
    if hidden:
        out.append(f"({hidden} older experiments not shown)")
    failed_ids = {e.id for e in shown if e.state not in (State.OK, State.PENDING)}
    tail_ids = set(sorted(failed_ids)[-tails:])
    for e in shown:
        rationale = " ".join(e.rationale.split())[:160] or "(no rationale)"
        decision = e.decision.value if e.decision else "-"
        reason = " ".join(e.reason.split())[:200]
        out.append(f"#{e.id} (parent #{e.parent_id}) {e.state.value}/{decision}"
                   f" speedup {_fmt_num(e.speedup, 'x')}: {rationale} -> {reason}")
        log_tail = tried.by_id(e.id).log_tail if e.id in tail_ids else ""
        if log_tail.strip():
            out.append("    output tail: " + _tail(log_tail, 4, 400).replace("\n", "\n    "))
    if not shown:
        out.append("(no experiments yet besides the baseline)")
    return "\n".join(out)


def hints_text(ctx: ResearchContext) -> str:
    if not ctx.hints or not ctx.task.playbook:
        return ""
    lines = [f"- {p.name}: {p.description} (touches {', '.join(sorted({e.file for e in p.edits}))})"
             for p in ctx.task.playbook]
    return "Ideas that are known to be worth trying (hints, not requirements):\n" + "\n".join(lines)


def _files_block(files: dict[str, str], budget: int | None = None) -> str:
    parts: list[str] = []
    used = 0
    for name in sorted(files):
        text = files[name]
        if budget is not None and used + len(text) > budget:
            parts.append(f"----- {name} ----- ({len(text)} characters, not shown)")
            continue
        used += len(text)
        body = text if text.endswith("\n") or not text else text + "\n"
        parts.append(f"----- {name} -----\n{body}----- end of {name} -----")
    return "\n".join(parts)


def task_rules(ctx: ResearchContext) -> str:
    obj = ctx.task.spec.objective
    gates = ", ".join(f"{g.metric} {g.op} {g.value}" for g in ctx.task.spec.gates) or "none"
    return (f"Editable files (globs): {', '.join(ctx.task.spec.editable)}. Everything else is "
            f"read-only.\nObjective: {obj.direction} {obj.metric}. Gates a candidate must pass: "
            f"{gates}.")


def step_text(ctx: ResearchContext, plan: Plan) -> str:
    if plan.mode == "debug" and plan.failed is not None:
        f = plan.failed
        return (
            f"Experiment #{f.id} failed: {f.state.value}: {' '.join(f.reason.split())[:500]}\n"
            f"Its rationale was: {f.rationale[:300]}\n"
            f"Output tail of the failed run:\n{_tail(f.log_tail, 40, 3000) or '(empty)'}\n\n"
            f"The code below is that failed candidate (#{f.id}). Fix the failure so that it runs "
            "correctly and passes the gates, keeping the idea of the change if it is sound; if "
            "the idea cannot work, undo it."
        )
    return (
        f"Start from experiment #{plan.parent.id} (its code is below). Propose ONE focused change "
        "that should improve the objective. Do not repeat what was already tried; learn from the "
        "failures above."
    )


def render_prompt(ctx: ResearchContext, plan: Plan, hints: bool = True, history: int = 40,
                  context_chars: int = 40_000) -> str:
    """The user message of a proposal request for a language model."""
    readonly = {k: v for k, v in ctx.task.workspace_files().items()
                if not ctx.task.is_editable(k)}
    parts = [
        f"# Task: {ctx.task.name}\n\n{ctx.task.instructions.strip()}",
        f"## Rules\n{task_rules(ctx)}",
        f"## What was tried so far\n{history_text(ctx, history)}",
    ]
    if hints and (h := hints_text(ctx)):
        parts.append(f"## Hints\n{h}")
    if ctx.experiments_left is not None:
        parts.append(f"Experiments left in this campaign: {ctx.experiments_left}.")
    parts.append(f"## Your step\n{step_text(ctx, plan)}")
    parts.append(f"## Editable files of experiment #{plan.parent.id}\n"
                 f"{_files_block(plan.parent.files)}")
    if readonly:
        parts.append("## Read-only files (for reference; never edit them)\n"
                     f"{_files_block(readonly, context_chars)}")
    parts.append(REPLY_FORMAT)
    return "\n\n".join(parts) + "\n"


def render_brief(ctx: ResearchContext, plan: Plan, workspace: str, hints: bool = True,
                 history: int = 40) -> str:
    """The brief an external coding agent reads (file $RUBICON_BRIEF and stdin)."""
    parts = [
        f"# rubicon brief: task {ctx.task.name}",
        f"You work in the directory {workspace} (your current directory): a copy of the "
        f"program as of experiment #{plan.parent.id}. Change the editable files there, then "
        "exit. rubicon measures what you leave in the editable files; changes to any other "
        "existing file make the proposal invalid. You may run the program to test it. "
        "Optionally write a one-line rationale to the file named in $RUBICON_RATIONALE.",
        f"## Task instructions\n\n{ctx.task.instructions.strip()}",
        f"## Rules\n{task_rules(ctx)}",
        f"## What was tried so far\n{history_text(ctx, history)}",
    ]
    if hints and (h := hints_text(ctx)):
        parts.append(f"## Hints\n{h}")
    parts.append(f"## Your step\n{step_text(ctx, plan).replace('below', 'in your directory')}")
    return "\n\n".join(parts) + "\n"


# -------------------------------------------------------------------------------------------
# reading a reply

_OPEN = re.compile(r"^<<<<<<< (SEARCH|FILE) (.+)$")
_DIVIDER = "======="
_CLOSE = {"SEARCH": ">>>>>>> REPLACE", "FILE": ">>>>>>> END"}
_RATIONALE = re.compile(r"^\s*\**RATIONALE\**\s*:\s*(.*\S)\s*$", re.IGNORECASE)


@dataclass
class ParsedReply:
    rationale: str
    edits: list[Edit]


def _clean_path(p: str) -> str:
    p = p.strip().strip("`'\"").strip()
    while p.startswith("./"):
        p = p[2:]
    return p


def parse_reply(text: str) -> ParsedReply:
    """Parse a reply in the format of REPLY_FORMAT.

    Raises:
        ReplyError: no blocks, an unclosed block, a stray marker, an empty SEARCH part.
    """
    edits: list[Edit] = []
    rationale = ""
    prose = ""
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        ln = lines[i].rstrip()
        m = _OPEN.match(ln)
        if m is None:
            if ln.startswith((">>>>>>>", "<<<<<<<")) or ln == _DIVIDER:
                raise ReplyError(f"line {i + 1}: marker {ln[:40]!r} outside an edit block "
                                 "(each block starts with '<<<<<<< SEARCH path' or "
                                 "'<<<<<<< FILE path')")
            r = _RATIONALE.match(ln)
            if r and not rationale:
                rationale = r.group(1)
            elif ln.strip() and not prose and not ln.lstrip().startswith("```"):
                prose = ln.strip()
            i += 1
            continue
        kind, path = m.group(1), _clean_path(m.group(2))
        if not path:
            raise ReplyError(f"line {i + 1}: the block names no file")
        start = i + 1
        first: list[str] = []
        second: list[str] = []
        part = first
        closed = False
        j = start
        while j < len(lines):
            cur = lines[j].rstrip()
            if cur == _CLOSE[kind]:
                closed = True
                break
            if _OPEN.match(cur) or (cur.startswith(">>>>>>>")):
                raise ReplyError(f"line {j + 1}: block '{kind} {path}' (line {i + 1}) is not "
                                 f"closed with {_CLOSE[kind]!r} before the next marker")
            if cur == _DIVIDER:
                if kind == "FILE":
                    raise ReplyError(f"line {j + 1}: '=======' inside a FILE block; FILE blocks "
                                     "have no REPLACE part")
                if part is second:
                    raise ReplyError(f"line {j + 1}: a second '=======' in block 'SEARCH {path}'")
                part = second
            else:
                part.append(lines[j])
            j += 1
        if not closed:
            raise ReplyError(f"block '{kind} {path}' (line {i + 1}) is never closed with "
                             f"{_CLOSE[kind]!r} (was the reply cut off?)")
        if kind == "SEARCH":
            if part is not second:
                raise ReplyError(f"block 'SEARCH {path}' (line {i + 1}) has no '=======' line "
                                 "between the SEARCH and REPLACE parts")
            search = "\n".join(first)
            if not search.strip():
                raise ReplyError(f"block 'SEARCH {path}' (line {i + 1}): the SEARCH part is "
                                 "empty; to write a whole file use a FILE block")
            edits.append(Edit(file=path, search=search, replace="\n".join(second)))
        else:
            body = first
            if len(body) >= 2 and body[0].lstrip().startswith("```") and body[-1].strip() == "```":
                body = body[1:-1]
            edits.append(Edit(file=path, search="", replace="\n".join(body) + "\n"))
        i = j + 1
    if not edits:
        raise ReplyError("the reply contains no edit block ('<<<<<<< SEARCH path' ... "
                         "'>>>>>>> REPLACE' or '<<<<<<< FILE path' ... '>>>>>>> END')")
    return ParsedReply(rationale=(rationale or prose or "(no rationale given)")[:500], edits=edits)


def _not_found_hint(files: dict[str, str], edit: Edit) -> str:
    text = files.get(edit.file)
    if text is None:
        return ""
    have = text.splitlines()
    for ln in edit.search.splitlines():
        if ln.strip() and ln not in have:
            close = difflib.get_close_matches(ln, have, n=1, cutoff=0.5)
            hint = f" The line {ln.strip()[:120]!r} does not occur in {edit.file}"
            return hint + (f"; closest line: {close[0].strip()[:120]!r}." if close else ".")
    return " Copy the SEARCH lines exactly, including indentation and blank lines."


def check_reply(ctx: ResearchContext, plan: Plan, reply: ParsedReply) -> dict[str, str]:
    """The candidate's editable files, after checking the edits apply to the parent, change
    something, and do not repeat code already measured.

    Raises:
        ReplyError: with a message meant for the model.
    """
    files = dict(plan.parent.files)
    for k, edit in enumerate(reply.edits):
        try:
            files = apply_edits(ctx.task, files, [edit])
        except ProposalError as err:
            msg = str(err).replace("edit 1", f"block {k + 1}", 1)
            hint = _not_found_hint(files, edit) if "not found" in msg else ""
            raise ReplyError(msg + hint) from None
    if files == plan.parent.files:
        raise ReplyError("the edits change nothing")
    measured = [s for s in State if s not in (State.PENDING, State.INVALID)]
    same = ctx.history.where(states=measured, code_hash=code_hash(files)).light
    if len(same):
        e = same[0]
        raise ReplyError(
            f"this code is identical to experiment #{e.id}, already measured "
            f"({e.state.value}: {' '.join(e.reason.split())[:200]}); propose something "
            "different")
    return files
