"""The lineage policy: which promotions need a human, and whom to notify (docs/LINEAGE.md,
"Policy file").

A policy is a small TOML file (`policy.toml` in the lineage directory; `DEFAULT_POLICY_TOML` is
the one written when none is given):

    human_approval = "if-gain-above"   # always | never | if-gain-above
    gain_threshold = 0.05              # if-gain-above: a gain (point estimate) above this
    max_unattended = 3                 # after this many promotions without a human, ask one

    [notify]
    command = ["/usr/local/bin/page-me", "--lineage"]   # argv; the event JSON on stdin
    url = "https://hooks.example.org/rubicon"           # HTTP POST of the event JSON
    timeout_seconds = 10
    events = ["proposal", "promotion", "rejection", "halt", "approval-needed"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rubicon.config import validation_message
from rubicon.errors import ConfigError
from rubicon.lineage.records import Generation

HumanApproval = Literal["always", "never", "if-gain-above"]
Event = Literal["proposal", "promotion", "rejection", "halt", "approval-needed"]
EVENTS: tuple[str, ...] = get_args(Event)

DEFAULT_POLICY_TOML = """\
# rubicon lineage policy (docs/LINEAGE.md, "Policy file").
# Which promotions need a human: "always", "never", or "if-gain-above" (a capability gain whose
# point estimate exceeds gain_threshold waits for `rubicon lineage approve GEN --by NAME`).
human_approval = "always"
gain_threshold = 0.05
# After this many promotions in a row without a human, the next one needs a human whatever
# human_approval says (left out: no limit).
# max_unattended = 3

[notify]
# command = ["/path/to/script", "arg"]   # run with the event JSON on stdin
# url = "http://127.0.0.1:8080/hook"     # HTTP POST of the event JSON
timeout_seconds = 10
events = ["proposal", "promotion", "rejection", "halt", "approval-needed"]
"""


class PolicyError(ConfigError):
    """A policy file is unreadable or invalid: the message names file, key, value, allowed."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotifyPolicy(_Model):
    """Notification hooks, fired by `rubicon.lineage.notify.notify` (never fatal)."""

    command: list[str] | None = Field(default=None, min_length=1,
                                      description="argv of a program given the event JSON on stdin")
    url: str | None = Field(default=None, description="http(s) URL receiving a POST of the event")
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    events: list[Event] = Field(default_factory=lambda: list(EVENTS))  # type: ignore[arg-type]

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError('an argv list of strings, e.g. ["/path/to/script", "--flag"]')
        return v

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None:
            u = urlparse(v)
            if u.scheme not in ("http", "https") or not u.netloc:
                raise ValueError("an http:// or https:// URL with a host")
        return v


class Policy(_Model):
    human_approval: HumanApproval = "always"
    gain_threshold: float = Field(default=0.05, ge=0,
                                  description="if-gain-above: gains above this need a human")
    max_unattended: int | None = Field(default=None, ge=0,
                                       description="promotions in a row without a human, at most")
    notify: NotifyPolicy = Field(default_factory=NotifyPolicy)

    def needs_human(self, gen: Generation, unattended_so_far: int) -> bool:
        """Whether promoting `gen` waits for `rubicon lineage approve`. `unattended_so_far`
        counts the promotions since the last human approval. A generation whose gain is unknown
        needs a human under if-gain-above (the policy cannot tell it is small)."""
        if self.human_approval == "always":
            return True
        if self.max_unattended is not None and unattended_so_far >= self.max_unattended:
            return True
        if self.human_approval == "never":
            return False
        return gen.gain is None or gen.gain.value > self.gain_threshold

    def why_human(self, gen: Generation, unattended_so_far: int) -> str:
        """One line saying why `needs_human` is what it is (for the audit log and hooks)."""
        if self.human_approval == "always":
            return "policy: human_approval = always"
        if self.max_unattended is not None and unattended_so_far >= self.max_unattended:
            return (f"policy: {unattended_so_far} unattended promotions reached "
                    f"max_unattended = {self.max_unattended}")
        if self.human_approval == "never":
            return "policy: human_approval = never"
        if gen.gain is None:
            return "policy: if-gain-above and the gain is unknown"
        rel = ">" if gen.gain.value > self.gain_threshold else "<="
        return f"policy: gain {gen.gain.value:.4g} {rel} gain_threshold {self.gain_threshold:g}"


def parse_policy(text: str, where: str = "policy") -> Policy:
    """A Policy from TOML text; PolicyError naming `where`, the key and what is allowed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{where}: not valid TOML ({e})") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        raise PolicyError(_message(e, where)) from None


def load_policy(path: Path | str | None = None) -> Policy:
    """The policy in `path`, or the default policy (DEFAULT_POLICY_TOML) when path is None."""
    if path is None:
        return parse_policy(DEFAULT_POLICY_TOML, "default policy")
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"policy file {p}: cannot read it ({e.__class__.__name__}: {e})") from None
    return parse_policy(text, f"policy file {p}")


def _message(err: ValidationError, where: str) -> str:
    msg = validation_message(err, where, Policy)
    # name the allowed keys of [notify] too (validation_message does it for top-level keys only)
    if any(e["type"] == "extra_forbidden" and e["loc"][:1] == ("notify",) for e in err.errors()):
        msg += f" (allowed in [notify]: {', '.join(NotifyPolicy.model_fields)})"
    return msg
