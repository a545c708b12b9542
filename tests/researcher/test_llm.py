"""The `llm` researcher against a local server speaking the OpenAI and Anthropic wire protocols."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.errors import ConfigError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher import ResearchContext, make_researcher
from rubicon.researcher._prompt import (
    ReplyError,
    choose_plan,
    parse_reply,
    render_prompt,
)
from rubicon.researcher.llm import LLMResearcher, LLMUnavailable
from rubicon.task import resolve_task
from rubicon.types import Decision, Experiment, State

from .fake_llm_server import FakeLLMServer, Scripted, error

MERGESORT = """I will switch the algorithm.
RATIONALE: use mergesort, O(n log n) instead of O(n^2)

```
<<<<<<< FILE knobs.json
{"cutoff": 16, "method": "mergesort"}
>>>>>>> END
```
"""
BREAK = """RATIONALE: read the method differently
<<<<<<< SEARCH solution.py
    method = KNOBS.get("method", "naive")
=======
    method = KNOBS.get("method", "naive") + undefined_name
>>>>>>> REPLACE
"""
FIX = """RATIONALE: remove the undefined name
<<<<<<< SEARCH solution.py
    method = KNOBS.get("method", "naive") + undefined_name
=======
    method = KNOBS.get("method") or "naive"
>>>>>>> REPLACE
"""
LOCALS = """RATIONALE: bind locals in the quadratic loop
<<<<<<< SEARCH solution.py
    n = len(seq)
    count = 0
=======
    n = len(seq)
    count = 0  # locals
>>>>>>> REPLACE
"""
BENCH = """RATIONALE: make the benchmark smaller
<<<<<<< SEARCH bench.py
SIZES = [2000, 2000, 2000]
=======
SIZES = [20, 20, 20]
>>>>>>> REPLACE
"""

ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
       "RUBICON_LLM_MODEL", "RUBICON_LLM_PROVIDER", "RUBICON_LLM_BASE_URL")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ENV:
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as s:
        yield s


def args(server: FakeLLMServer, provider: str = "openai", **kw: str) -> dict[str, str]:
    a = {"provider": provider, "model": "fake-model" if provider == "openai" else "claude-fake",
         "base_url": server.url + ("/v1" if provider == "openai" else ""),
         "backoff": "0", "explore": "0", "timeout": "5", "price_in": "1", "price_out": "2"}
    a.update(kw)
    return a


def researcher(server: FakeLLMServer, provider: str = "openai", **kw: str) -> LLMResearcher:
    r = make_researcher("llm", **args(server, provider, **kw))
    assert isinstance(r, LLMResearcher)
    r.sleeps = []  # type: ignore[attr-defined]
    r._sleep = r.sleeps.append  # type: ignore[attr-defined]
    return r


TASK = resolve_task("demo-inversions")


def fast(n: int) -> CampaignConfig:
    """A small campaign: this suite tests researchers, not the timing protocol."""
    return CampaignConfig(max_experiments=n, baseline_runs=2,
                          protocol=ProtocolConfig(min_pairs=2, max_pairs=3,
                                                  max_foreign_load=1e9))


def exp(i: int, state: State = State.OK, objective: float | None = 1.0,
        files: dict[str, str] | None = None, researcher: str = "llm", **kw: Any) -> Experiment:
    return Experiment(id=i, campaign_id="c", seq=i - 1, parent_id=None if i == 1 else 1,
                      researcher=researcher, files=files or TASK.editable_files(), state=state,
                      decision=Decision.KEEP if state == State.OK else Decision.DISCARD,
                      objective=objective, rationale=f"step {i}", **kw)


def ctx(*extra: Experiment, incumbent: Experiment | None = None) -> ResearchContext:
    base = exp(1, researcher="baseline")
    base.speedup = 1.0
    return ResearchContext(task=TASK, baseline=base, incumbent=incumbent or base,
                           history=[base, *extra])


def mergesort_files() -> dict[str, str]:
    f = TASK.editable_files()
    f["knobs.json"] = '{"cutoff": 16, "method": "mergesort"}\n'
    return f


def user_texts(req: dict[str, Any]) -> list[str]:
    return [m["content"] for m in req["body"]["messages"] if m["role"] == "user"]


# -- end to end ------------------------------------------------------------------------------


def test_campaign_end_to_end_openai(server: FakeLLMServer, tmp_path: Path) -> None:
    server.push(MERGESORT, BREAK, FIX)
    c = Campaign.create("demo-inversions", "llm", researcher_args=args(server),
                        directory=tmp_path, cfg=fast(3))
    c.run()
    h = [e for e in c.history() if e.seq > 0]
    assert [e.state for e in h] == [State.OK, State.CRASHED, State.OK]
    assert "mergesort" in h[0].files["knobs.json"]
    assert h[0].rationale.startswith("use mergesort")
    # the crash gets a debug step that starts from the failed code, with its error tail
    assert h[1].parent_id == (h[0].id if h[0].decision == Decision.KEEP else c.info.baseline_id)
    assert h[2].parent_id == h[1].id and h[2].meta["mode"] == "debug"
    assert h[2].meta["debug_of"] == h[1].id
    debug_prompt = user_texts(server.requests[2])[0]
    assert "NameError" in debug_prompt and "undefined_name" in debug_prompt
    # wire protocol and accounting
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["messages"][0]["role"] == "system"
    assert req["body"]["max_tokens"] == 8192  # a non-OpenAI server gets max_tokens
    for e in h:
        assert e.meta["tokens_in"] > 0 and e.meta["tokens_out"] > 0
        want = (e.meta["tokens_in"] * 1 + e.meta["tokens_out"] * 2) / 1e6
        assert e.meta["cost_usd"] == pytest.approx(want, abs=1e-6)
    assert len(server.requests) == 3


def test_campaign_end_to_end_anthropic_with_retry_and_invalid(server: FakeLLMServer,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    server.api_key = "sk-ant-test"
    server.push("Sure! Here is my idea: use mergesort.", MERGESORT, BENCH, BENCH)
    c = Campaign.create("demo-inversions", "llm",
                        researcher_args=args(server, "anthropic", max_attempts="2"),
                        directory=tmp_path, cfg=fast(2))
    c.run()
    h = [e for e in c.history() if e.seq > 0]
    assert [e.state for e in h] == [State.OK, State.INVALID]
    assert h[0].meta["attempts"] == 2
    # the retry carried the parse error in the conversation
    retry = server.requests[1]["body"]["messages"]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    assert "no edit block" in retry[2]["content"]
    # retries exhausted: recorded invalid with the reason, tokens of both attempts kept
    assert "bench.py" in h[1].reason and "not editable" in h[1].reason
    assert h[1].meta["attempts"] == 2 and h[1].meta["tokens_in"] > 0
    assert h[1].files == h[0].files and h[1].diff == ""
    req = server.requests[0]
    assert req["path"] == "/v1/messages"
    hdr = {k.lower(): v for k, v in req["headers"].items()}
    assert "sk-ant-test" in (hdr.get("x-api-key", "") + hdr.get("authorization", ""))
    assert "anthropic-version" in hdr
    assert "rubicon" in req["body"]["system"] and req["body"]["max_tokens"] == 8192


def test_cost_cap_ends_campaign_and_survives_resume(server: FakeLLMServer,
                                                    tmp_path: Path) -> None:
    server.push(MERGESORT, LOCALS, LOCALS)
    c = Campaign.create("demo-inversions", "llm",
                        researcher_args=args(server, price_in="1", max_cost_usd="0.001"),
                        directory=tmp_path, cfg=fast(3))
    c.run()
    h = [e for e in c.history() if e.seq > 0]
    assert len(h) == 1 and h[0].meta["cost_usd"] >= 0.001  # one paid proposal, then the cap
    assert len(server.requests) == 1
    again = Campaign.open(tmp_path, c.info.id, cfg=fast(3))
    assert isinstance(again.researcher, LLMResearcher)
    again.run()
    assert len(server.requests) == 1 and len(again.history()) == 2
    assert again.store.campaign(c.info.id).status == "finished"


# -- reply parsing ---------------------------------------------------------------------------


def test_parse_reply_blocks_and_rationale() -> None:
    p = parse_reply(MERGESORT + BREAK)
    assert p.rationale == "use mergesort, O(n log n) instead of O(n^2)"
    assert p.edits[0].file == "knobs.json" and p.edits[0].search == ""
    assert p.edits[0].replace == '{"cutoff": 16, "method": "mergesort"}\n'
    assert p.edits[1].search == '    method = KNOBS.get("method", "naive")'
    assert p.edits[1].replace == '    method = KNOBS.get("method", "naive") + undefined_name'


@pytest.mark.parametrize("text, msg", [
    ("just prose", "no edit block"),
    ("<<<<<<< SEARCH a.py\nx\n=======\ny\n", "never closed"),
    ("<<<<<<< SEARCH a.py\nx\ny\n>>>>>>> REPLACE\n", "no '=======' line"),
    ("<<<<<<< SEARCH a.py\n\n=======\ny\n>>>>>>> REPLACE\n", "SEARCH part is empty"),
    ("=======\n", "outside an edit block"),
    ("<<<<<<< SEARCH a.py\nx\n=======\ny\n=======\nz\n>>>>>>> REPLACE\n", "second '======='"),
    ("<<<<<<< FILE a.py\nx\n<<<<<<< FILE b.py\ny\n>>>>>>> END\n", "not closed"),
])
def test_parse_reply_rejects(text: str, msg: str) -> None:
    with pytest.raises(ReplyError, match=msg):
        parse_reply(text)


# -- retries on bad replies ------------------------------------------------------------------


def test_search_not_found_is_retried_with_hint(server: FakeLLMServer) -> None:
    bad = LOCALS.replace("    n = len(seq)\n    count = 0\n=",
                         "    n = len(seq )\n    count = 0\n=")
    server.push(bad, LOCALS)
    r = researcher(server)
    p = r.propose(ctx())
    assert p is not None and p.meta["attempts"] == 2
    msg = user_texts(server.requests[1])[1]
    assert "not found" in msg and "closest line" in msg and "n = len(seq)" in msg


def test_truncated_reply_says_so(server: FakeLLMServer) -> None:
    server.push(Scripted(text="<<<<<<< FILE knobs.json\n{", truncated=True), MERGESORT)
    p = researcher(server).propose(ctx())
    assert p is not None and p.meta["attempts"] == 2
    assert "cut off at max_tokens" in user_texts(server.requests[1])[1]


def test_duplicate_code_is_rejected_before_running(server: FakeLLMServer) -> None:
    done = exp(2, files=mergesort_files(), objective=0.3)
    server.push(MERGESORT, LOCALS)
    p = researcher(server).propose(ctx(done))
    assert p is not None and p.meta["attempts"] == 2 and p.edits[0].file == "solution.py"
    assert "identical to experiment #2" in user_texts(server.requests[1])[1]


def test_no_change_is_rejected(server: FakeLLMServer) -> None:
    same = "<<<<<<< SEARCH solution.py\n    count = 0\n=======\n    count = 0\n>>>>>>> REPLACE\n"
    server.push(same, same)
    p = researcher(server, max_attempts="2").propose(ctx())
    assert p is not None and p.edits == [] and "change nothing" in p.meta["error"]


def test_missing_usage_is_estimated(server: FakeLLMServer) -> None:
    server.push(Scripted(text=MERGESORT, usage=False))
    p = researcher(server).propose(ctx())
    assert p is not None and p.meta["tokens_estimated"] is True and p.meta["tokens_in"] > 100


# -- transport errors ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_429_honours_retry_after(server: FakeLLMServer, provider: str) -> None:
    server.push(error(429, "slow down", retry_after="0.25"), error(429, retry_after_ms="40"),
                MERGESORT)
    r = researcher(server, provider)
    p = r.propose(ctx())
    assert p is not None and p.edits and len(server.requests) == 3
    assert r.sleeps == [0.25, 0.04]  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_5xx_backs_off_exponentially(server: FakeLLMServer, provider: str) -> None:
    server.push(error(500), error(529 if provider == "anthropic" else 503), MERGESORT)
    r = researcher(server, provider, backoff="0.01")
    assert r.propose(ctx()) is not None
    assert r.sleeps == [0.01, 0.02]  # type: ignore[attr-defined]


def test_timeout_is_retried(server: FakeLLMServer) -> None:
    server.push(Scripted(text=MERGESORT, delay=1.5), MERGESORT)
    r = researcher(server, timeout="0.3")
    p = r.propose(ctx())
    assert p is not None and p.edits and len(r.sleeps) == 1  # type: ignore[attr-defined]


def test_gives_up_after_max_retries(server: FakeLLMServer) -> None:
    server.push(error(500), error(500), error(500), MERGESORT)
    r = researcher(server, max_retries="2")
    with pytest.raises(LLMUnavailable, match="failed 3 times.*500"):
        r.propose(ctx())
    assert len(server.requests) == 3


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_unknown_model_is_a_config_error(server: FakeLLMServer, provider: str) -> None:
    r = researcher(server, provider, model="no-such-model")
    with pytest.raises(ConfigError, match="no-such-model.*404"):
        r.propose(ctx())
    assert len(server.requests) == 1  # not retried


@pytest.mark.parametrize("provider, env", [("openai", "OPENAI_API_KEY"),
                                           ("anthropic", "ANTHROPIC_API_KEY")])
def test_rejected_key_is_a_config_error(server: FakeLLMServer, provider: str, env: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    server.api_key = "right"
    monkeypatch.setenv(env, "wrong")
    r = researcher(server, provider)
    with pytest.raises(ConfigError, match=f"401.*{env}"):
        r.propose(ctx())


@pytest.mark.parametrize("provider, env", [("openai", "OPENAI_API_KEY"),
                                           ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_key_is_a_config_error(provider: str, env: str) -> None:
    with pytest.raises(ConfigError, match=env):
        LLMResearcher(provider=provider, model="m")
    with pytest.raises(ConfigError, match="MY_KEY"):
        LLMResearcher(provider=provider, model="m", base_url="http://127.0.0.1:1",
                      api_key_env="MY_KEY")
    LLMResearcher(provider=provider, model="m", base_url="http://127.0.0.1:1")  # local: no key


def test_missing_model_and_bad_args() -> None:
    with pytest.raises(ConfigError, match="RUBICON_LLM_MODEL"):
        LLMResearcher(base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="provider"):
        LLMResearcher(provider="gemini", model="m", base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="base_url"):
        LLMResearcher(model="m", base_url="/v1")
    with pytest.raises(ConfigError, match="max_tokens"):
        LLMResearcher(model="m", base_url="http://127.0.0.1:1", max_tokens="lots")
    with pytest.raises(ConfigError, match="bad arguments"):
        make_researcher("llm", model="m", base_url="http://x", api_key="sk-secret")


def test_env_configures_model_and_url(server: FakeLLMServer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBICON_LLM_MODEL", "fake-model")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    server.push(MERGESORT)
    r = LLMResearcher()
    assert r.provider == "openai" and r.propose(ctx()) is not None
    hdr = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert hdr["authorization"] == "Bearer k"


def test_missing_sdk_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(ConfigError, match=r"pip install 'rubicon\[llm\]'"):
        LLMResearcher(model="m", base_url="http://127.0.0.1:1")


# -- cost and caps ---------------------------------------------------------------------------


def test_known_model_prices_and_official_token_param(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    r = LLMResearcher(model="gpt-4.1-mini-2025-04-14")
    assert r.price == (0.40, 1.60) and r.token_param == "max_completion_tokens"
    with pytest.raises(ConfigError, match="price_in"):
        LLMResearcher(model="my-local", base_url="http://127.0.0.1:1", max_cost_usd="1")


def test_prices_file(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text('{"my-local": [0.5, 1.5]}')
    r = LLMResearcher(model="my-local-7b", base_url="http://127.0.0.1:1", prices=str(f))
    assert r.price == (0.5, 1.5)


def test_cost_cap_from_history_stops_without_request(server: FakeLLMServer) -> None:
    paid = exp(2, meta={"tokens_in": 1000, "tokens_out": 100, "cost_usd": 0.6})
    paid2 = exp(3, meta={"tokens_in": 1000, "tokens_out": 100, "cost_usd": 0.5})
    server.push(MERGESORT)
    assert researcher(server, max_cost_usd="1.0").propose(ctx(paid, paid2)) is None
    assert researcher(server, max_tokens_total="2200").propose(ctx(paid, paid2)) is None
    assert server.requests == []
    # under both caps: it asks; other researchers' spending does not count
    other = exp(4, researcher="search", meta={"cost_usd": 5.0})
    p = researcher(server, max_cost_usd="1.2", max_tokens_total="3000").propose(
        ctx(paid, paid2, other))
    assert p is not None and len(server.requests) == 1


def test_cap_reached_during_retries_records_what_was_spent(server: FakeLLMServer) -> None:
    server.push(Scripted(text="nonsense", tokens_in=600_000, tokens_out=0), MERGESORT)
    r = researcher(server, max_cost_usd="0.5")
    p = r.propose(ctx())
    assert p is not None and p.edits == [] and "cost cap reached" in p.meta["error"]
    assert p.meta["cost_usd"] == pytest.approx(0.6) and len(server.requests) == 1
    recorded = exp(2, state=State.INVALID, meta=p.meta)
    assert r.propose(ctx(recorded)) is None


def test_invalid_in_row_stops(server: FakeLLMServer) -> None:
    bad = [exp(i, state=State.INVALID) for i in range(2, 5)]
    assert researcher(server, max_invalid_in_row="3").propose(ctx(*bad)) is None
    assert server.requests == []


# -- what to work on -------------------------------------------------------------------------


def test_parent_selection_lines_and_exploration() -> None:
    best = exp(2, objective=0.3, files=mergesort_files())
    f3 = mergesort_files()
    f3["knobs.json"] = '{"cutoff": 8, "method": "mergesort"}\n'
    second = exp(3, objective=0.35, files=f3)
    f4 = mergesort_files()
    f4["knobs.json"] = '{"cutoff": 4, "method": "mergesort"}\n'
    third = exp(4, objective=0.5, files=f4)
    c = ctx(best, second, third, incumbent=best)
    assert choose_plan(c, "llm", lines=3, explore=0.0).parent.id == 2
    plan = choose_plan(c, "llm", lines=2, explore=1.0)
    assert plan.parent.id == 3 and plan.pool == [2, 3] and plan.mode == "improve"
    assert choose_plan(c, "llm", lines=3, explore=1.0).parent.id in (3, 4)


def test_debug_steps_are_bounded() -> None:
    crashed = exp(2, state=State.CRASHED, objective=None, log_tail="ZeroDivisionError")
    plan = choose_plan(ctx(crashed), "llm", max_debug=2)
    assert plan.mode == "debug" and plan.parent.id == 2 and plan.debug_depth == 1
    deep = exp(2, state=State.CRASHED, objective=None, meta={"debug_depth": 2})
    assert choose_plan(ctx(deep), "llm", max_debug=2).mode == "improve"
    cheat = exp(2, state=State.TAMPERED, objective=None)
    assert choose_plan(ctx(cheat), "llm").mode == "improve"
    # another researcher's failure is not ours to debug
    theirs = exp(2, state=State.CRASHED, objective=None, researcher="search")
    assert choose_plan(ctx(theirs), "llm").mode == "improve"


def test_prompt_contents_and_hints() -> None:
    failed = exp(2, state=State.GATE_FAILED, objective=None, reason="gate correct == 1 failed",
                 log_tail="line 1\nwrong answer 42")
    c = ctx(failed)
    plan = choose_plan(c, "llm", max_debug=0)
    text = render_prompt(c, plan, hints=True)
    assert TASK.instructions.strip()[:60] in text
    assert "----- solution.py -----" in text and "def count_naive" in text
    assert "----- bench.py -----" in text  # read-only context
    assert "#2 (parent #1) gate_failed/discard" in text and "gate correct == 1 failed" in text
    assert "wrong answer 42" in text
    assert "bisect-insertion" in text
    assert "bisect-insertion" not in render_prompt(c, plan, hints=False)
    assert "bench.py" in render_prompt(c, plan, context_chars=0)  # named, not shown
    assert "SIZES" not in render_prompt(c, plan, context_chars=0)


def test_typed_settings_are_recorded_as_resolved_and_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    from rubicon.config import ResearcherSpec
    from rubicon.researcher import build, spec_of
    from rubicon.researcher.llm import LLMSettings

    monkeypatch.setenv("RUBICON_LLM_MODEL", "my-model")
    r = LLMResearcher(LLMSettings(base_url="http://127.0.0.1:1", max_tokens=100, hints=False))
    spec = spec_of(r)
    assert spec == ResearcherSpec(name="llm", args={
        "provider": "openai", "model": "my-model", "base_url": "http://127.0.0.1:1",
        "max_tokens": 100, "hints": False})
    monkeypatch.delenv("RUBICON_LLM_MODEL")  # the recorded model does not need the environment
    again = build(spec)
    assert isinstance(again, LLMResearcher) and again.model == "my-model"
    assert again.settings.max_tokens == 100 and again.settings.hints is False
    with pytest.raises(ConfigError, match="either a LLMSettings or keyword arguments"):
        LLMResearcher(LLMSettings(model="m"), base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match=r"llm researcher: bad arguments: token_param='n': "
                                          r"allowed: max_tokens, max_completion_tokens"):
        LLMResearcher(model="m", base_url="http://127.0.0.1:1", token_param="n")
    with pytest.raises(ConfigError, match=r"hints='maybe': Input should be a valid boolean"):
        LLMResearcher(model="m", base_url="http://127.0.0.1:1", hints="maybe")
