"""The `llm` researcher: a language model proposes search/replace edits; rubicon measures.

Speaks any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, Ollama,
LM Studio, OpenRouter, ...) and Anthropic's Messages API, through the official SDKs (imported
lazily: `pip install 'rubicon[llm]'`). See docs/RESEARCHERS.md, section "llm".

State lives in the store: tokens and dollars are summed over `ctx.history[*].meta`, the line of
work and pending debug steps are read from the history, so a resumed campaign continues with the
same budget.
"""

from __future__ import annotations

import email.utils
import importlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from rubicon.errors import ConfigError, RubiconError
from rubicon.researcher import ResearchContext
from rubicon.researcher._prompt import (
    SYSTEM_PROMPT,
    Plan,
    ReplyError,
    check_reply,
    choose_plan,
    invalid_in_row,
    parse_reply,
    render_prompt,
    spent,
    unusable,
)
from rubicon.researcher._registry import parse_settings
from rubicon.researcher._settings import AgentSettings
from rubicon.types import Proposal

INSTALL = "pip install 'rubicon[llm]'"

# USD per million tokens (input, output), matched by longest model-name prefix. List prices
# as published by the providers in 2025; override with price_in/price_out or prices=FILE.json.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

RETRY_STATUS = {408, 409, 429}  # and every 5xx (Anthropic's 529 "overloaded" included)


class LLMUnavailable(RubiconError):
    """The provider kept failing (rate limits, server errors, timeouts) after every retry.
    The campaign stops as `interrupted`; `rubicon run --resume` continues it later."""


@dataclass
class Reply:
    text: str
    tokens_in: int
    tokens_out: int
    truncated: bool
    estimated: bool = False  # the server sent no usage; tokens estimated from characters


def _lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _sdk_available(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _price_for(model: str, table: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    best = ""
    for prefix in table:
        if model.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return table[best] if best else None


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, retry-after seconds or date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        when = email.utils.parsedate_to_datetime(ra) if ra else None
        return None if when is None else max(0.0, when.timestamp() - time.time())


class LLMSettings(AgentSettings):
    """Arguments of the `llm` researcher (docs/RESEARCHERS.md, section "llm"). API keys are
    never arguments (they would be recorded): name the environment variable instead."""

    provider: Annotated[Literal["openai", "anthropic"] | None, BeforeValidator(_lower)] = Field(
        default=None,
        description="openai (any OpenAI-compatible server) or anthropic; default "
                    "RUBICON_LLM_PROVIDER, else anthropic for claude-* models, else openai")
    model: str | None = Field(default=None, description="model name; default RUBICON_LLM_MODEL")
    base_url: str | None = Field(
        default=None,
        description="server URL, e.g. http://127.0.0.1:8000/v1; default RUBICON_LLM_BASE_URL, "
                    "then OPENAI_BASE_URL / ANTHROPIC_BASE_URL")
    api_key_env: str | None = Field(
        default=None, description="environment variable holding the key (default "
                                  "OPENAI_API_KEY or ANTHROPIC_API_KEY)")
    max_tokens: int = Field(default=8192, ge=1, description="reply token limit per request")
    temperature: float | None = Field(default=None, ge=0, description="sent only when given")
    price_in: float | None = Field(default=None, ge=0,
                                   description="USD per million input tokens")
    price_out: float | None = Field(default=None, ge=0,
                                    description="USD per million output tokens")
    prices: str | None = Field(default=None,
                               description="JSON file {model-prefix: [usd_in, usd_out]}")
    max_cost_usd: float | None = Field(default=None, ge=0, description="campaign cost cap")
    max_tokens_total: int | None = Field(default=None, ge=1, description="campaign token cap")
    max_attempts: int = Field(default=3, ge=1,
                              description="replies per proposal (a bad one is retried)")
    max_retries: int = Field(default=6, ge=0,
                             description="transport retries on 429/5xx/timeouts")
    backoff: float = Field(default=1.0, ge=0, description="first retry wait, seconds (doubles)")
    max_backoff: float = Field(default=60.0, ge=0, description="longest retry wait, seconds")
    timeout: float = Field(default=300.0, gt=0, description="seconds per request")
    context_chars: int = Field(default=40_000, ge=0,
                               description="read-only file budget of the prompt")
    token_param: Literal["max_tokens", "max_completion_tokens"] | None = Field(
        default=None, description="OpenAI protocol: default max_completion_tokens for "
                                  "api.openai.com, max_tokens for other servers")


class LLMResearcher:
    """A language model proposes edits. Arguments: an `LLMSettings`, or its fields as keywords
    (strings from `-R key=value` are converted); the provider, model and server not given are
    taken from the environment and recorded as resolved."""

    name = "llm"
    Settings = LLMSettings

    def __init__(self, settings: LLMSettings | None = None, /, **args: Any) -> None:
        s = parse_settings(LLMSettings, "llm", settings, args)
        self.model = s.model or os.environ.get("RUBICON_LLM_MODEL", "")
        if not self.model:
            raise ConfigError("llm researcher: no model; pass -R model=NAME (e.g. gpt-4.1, "
                              "claude-sonnet-4-5, or your local server's model name) or set "
                              "RUBICON_LLM_MODEL")
        prov = (s.provider or os.environ.get("RUBICON_LLM_PROVIDER")
                or ("anthropic" if self.model.startswith("claude") else "openai")).lower()
        if prov not in ("openai", "anthropic"):
            raise ConfigError(f"llm researcher: provider={prov!r} (from RUBICON_LLM_PROVIDER); "
                              "use openai (any OpenAI-compatible server) or anthropic")
        self.provider = prov
        env_url = "OPENAI_BASE_URL" if prov == "openai" else "ANTHROPIC_BASE_URL"
        self.base_url = (s.base_url or os.environ.get("RUBICON_LLM_BASE_URL")
                         or os.environ.get(env_url) or None)
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"llm researcher: base_url={self.base_url!r}: must start with "
                              "http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
        self.key_env = s.api_key_env or f"{prov.upper()}_API_KEY"
        key = os.environ.get(self.key_env, "")
        if not key:
            if s.api_key_env is not None or self.base_url is None:
                raise ConfigError(
                    f"llm researcher: the API key is missing: set the environment variable "
                    f"{self.key_env} (or name another with -R api_key_env=VAR; a local server "
                    "given with -R base_url=... needs no key)")
            key = "not-needed"  # local servers usually ignore the key; the SDKs require one
        self._key = key
        self.price = self._prices(s)
        if s.max_cost_usd is not None and self.price is None:
            raise ConfigError(f"llm researcher: max_cost_usd needs prices for model "
                              f"{self.model!r}: pass -R price_in=USD -R price_out=USD (per "
                              "million tokens)")
        official = self.base_url is None or "api.openai.com" in self.base_url
        self.token_param = s.token_param or ("max_completion_tokens" if official else "max_tokens")
        # recorded: what was given, with the provider, model and server as resolved
        self.settings = s.model_copy(update={"provider": self.provider, "model": self.model,
                                             "base_url": self.base_url})
        self.args: dict[str, Any] = self.settings.model_dump(mode="json", exclude_defaults=True)
        if not _sdk_available(self.provider):
            raise ConfigError(f"llm researcher: the {self.provider!r} SDK is not installed; "
                              f"run: {INSTALL}")
        self._sdk: Any = None
        self._client: Any = None
        self._sleep: Callable[[float], None] = time.sleep  # tests record the waits

    def _prices(self, s: LLMSettings) -> tuple[float, float] | None:
        """USD per million tokens (in, out): given, else from the table for the model."""
        table = dict(PRICES)
        if s.prices:
            try:
                raw = json.loads(Path(s.prices).read_text())
                table.update({str(k): (float(v[0]), float(v[1])) for k, v in raw.items()})
            except (OSError, ValueError, TypeError, IndexError, AttributeError) as e:
                raise ConfigError(f"llm researcher: prices={s.prices!r}: need a JSON object "
                                  f'{{"model-prefix": [usd_in, usd_out]}} per Mtok: {e}') from None
        known = _price_for(self.model, table)
        p_in, p_out = s.price_in, s.price_out
        if p_in is None or p_out is None:
            if known is None and (p_in is not None or p_out is not None):
                raise ConfigError("llm researcher: give both price_in and price_out")
            if known is not None:
                p_in = known[0] if p_in is None else p_in
                p_out = known[1] if p_out is None else p_out
        return None if p_in is None or p_out is None else (p_in, p_out)

    # the SDKs ----------------------------------------------------------------------------

    def _import_sdk(self) -> Any:
        """The provider's SDK module, imported on first use (importing costs seconds)."""
        if self._sdk is None:
            try:
                sdk = importlib.import_module(self.provider)  # "openai" | "anthropic"
            except ImportError:
                raise ConfigError(f"llm researcher: the {self.provider!r} SDK is not installed; "
                                  f"run: {INSTALL}") from None
            self._sdk = sdk
        return self._sdk

    def _get_client(self) -> Any:
        if self._client is None:
            sdk = self._import_sdk()
            cls = sdk.OpenAI if self.provider == "openai" else sdk.Anthropic
            self._client = cls(api_key=self._key, base_url=self.base_url, max_retries=0,
                               timeout=self.settings.timeout)
        return self._client

    def _request(self, system: str, messages: list[dict[str, str]]) -> Reply:
        cli = self._get_client()
        extra: dict[str, Any] = {}
        if self.settings.temperature is not None:
            extra["temperature"] = self.settings.temperature
        if self.provider == "openai":
            extra[self.token_param] = self.settings.max_tokens
            r = cli.chat.completions.create(
                model=self.model, messages=[{"role": "system", "content": system}, *messages],
                **extra)
            choice = r.choices[0] if r.choices else None
            text = (choice.message.content if choice is not None else "") or ""
            truncated = choice is not None and choice.finish_reason == "length"
            u = r.usage
            if u is not None:
                return Reply(text, int(u.prompt_tokens or 0), int(u.completion_tokens or 0),
                             truncated)
        else:
            r = cli.messages.create(model=self.model, max_tokens=self.settings.max_tokens,
                                    system=system, messages=messages, **extra)
            text = "".join(getattr(b, "text", "") for b in r.content
                           if getattr(b, "type", "") == "text")
            truncated = r.stop_reason == "max_tokens"
            u = r.usage
            if u is not None:
                tin = (int(u.input_tokens or 0) + int(getattr(u, "cache_creation_input_tokens", 0)
                                                      or 0)
                       + int(getattr(u, "cache_read_input_tokens", 0) or 0))
                return Reply(text, tin, int(u.output_tokens or 0), truncated)
        chars_in = len(system) + sum(len(m["content"]) for m in messages)
        return Reply(text, chars_in // 4, len(text) // 4, truncated, estimated=True)

    def _call(self, system: str, messages: list[dict[str, str]]) -> Reply:
        """One request with retries on 429, 5xx and timeouts (honouring retry-after)."""
        sdk = self._import_sdk()
        where = self.base_url or f"the {self.provider} API"
        last = ""
        for attempt in range(self.settings.max_retries + 1):
            wait: float | None = None
            try:
                return self._request(system, messages)
            except sdk.APIStatusError as e:
                status = int(e.status_code)
                msg = " ".join(str(getattr(e, "message", e)).split())[:300]
                if status in (401, 403):
                    raise ConfigError(
                        f"llm researcher: {where} rejected the API key ({status}: {msg}); check "
                        f"the environment variable {self.key_env}") from None
                if status == 404:
                    raise ConfigError(
                        f"llm researcher: {where} does not know model {self.model!r} or the "
                        f"endpoint (404: {msg}); check -R model=... and -R base_url=... "
                        "(OpenAI-compatible servers usually end in /v1)") from None
                if status not in RETRY_STATUS and status < 500:
                    raise ConfigError(f"llm researcher: {where} refused the request "
                                      f"({status}: {msg})") from None
                last = f"{status}: {msg}"
                wait = _retry_after(getattr(e.response, "headers", None))
            except sdk.APIConnectionError as e:  # includes APITimeoutError
                last = f"{type(e).__name__}: {e}"
            if attempt == self.settings.max_retries:
                break
            if wait is None:
                wait = min(self.settings.max_backoff, self.settings.backoff * 2 ** attempt)
            self._sleep(wait)
        raise LLMUnavailable(f"llm researcher: {where} failed {self.settings.max_retries + 1} "
                             f"times; last error: {last}. Resume the campaign later.")

    # proposing ---------------------------------------------------------------------------

    def _cost(self, tin: int, tout: int) -> float:
        if self.price is None:
            return 0.0
        return (tin * self.price[0] + tout * self.price[1]) / 1e6

    def _capped(self, tokens: int, cost: float) -> str:
        s = self.settings
        if s.max_tokens_total is not None and tokens >= s.max_tokens_total:
            return f"token cap reached ({tokens} >= max_tokens_total {s.max_tokens_total})"
        if s.max_cost_usd is not None and cost >= s.max_cost_usd:
            return f"cost cap reached (${cost:.4f} >= max_cost_usd {s.max_cost_usd:g})"
        return ""

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        capped = self.settings.max_tokens_total is not None or self.settings.max_cost_usd is not None
        tokens0, cost0 = spent(ctx, self.name) if capped else (0, 0.0)  # only caps read them
        if self._capped(tokens0, cost0):
            return None
        if invalid_in_row(ctx, self.name) >= self.settings.max_invalid_in_row:
            return None
        s = self.settings
        plan: Plan = choose_plan(ctx, self.name, s.lines, s.explore, s.max_debug)
        messages = [{"role": "user", "content": render_prompt(
            ctx, plan, s.hints, s.history, s.context_chars)}]
        tin = tout = 0
        estimated = False
        error = ""
        for attempt in range(1, self.settings.max_attempts + 1):
            reply = self._call(SYSTEM_PROMPT, messages)
            tin += reply.tokens_in
            tout += reply.tokens_out
            estimated = estimated or reply.estimated
            meta: dict[str, Any] = {
                **plan.meta(), "provider": self.provider, "model": self.model,
                "tokens_in": tin, "tokens_out": tout, "cost_usd": round(self._cost(tin, tout), 6),
                "attempts": attempt,
            }
            if estimated:
                meta["tokens_estimated"] = True
            try:
                parsed = parse_reply(reply.text)
                check_reply(ctx, plan, parsed)
            except ReplyError as e:
                error = str(e)
                if reply.truncated:
                    error = (f"the reply was cut off at max_tokens={self.settings.max_tokens}; use "
                             f"shorter SEARCH/REPLACE blocks ({error})")
                cap = self._capped(tokens0 + tin + tout, cost0 + self._cost(tin, tout))
                if cap:
                    return unusable(self.name, self.args, plan, f"{error}; {cap}", meta)
                messages += [
                    {"role": "assistant", "content": reply.text or "(empty reply)"},
                    {"role": "user", "content": f"Your reply could not be used: {error}\n"
                     "Reply again with the complete set of edit blocks in the required format."},
                ]
                continue
            return Proposal(parent_id=plan.parent.id, edits=parsed.edits,
                            rationale=parsed.rationale, researcher=self.name,
                            researcher_args=dict(self.args), meta=meta)
        return unusable(self.name, self.args, plan,
                        f"no usable reply after {s.max_attempts} attempts; last error: {error}",
                        meta)
