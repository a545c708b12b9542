"""`rubicon bench`: measure researchers. Researchers x tasks x attempts, each attempt a
resumable campaign in its own directory; normalized scores with bootstrap intervals; METR-style
runs.jsonl and Inspect logs for time horizons (docs/BENCH.md).

    from rubicon import CampaignConfig
    from rubicon.bench import Bench
    bench = Bench.create("bench-runs", ["search"], suite="smoke", attempts=3,
                         cfg=CampaignConfig(budget_seconds=300))
    bench.run()
"""

from rubicon.bench._bench import MAX_RESTARTS, Bench
from rubicon.bench._manifest import (
    VERSION,
    Attempt,
    AttemptResult,
    BenchError,
    BenchPlan,
    is_bench_dir,
)
from rubicon.bench._plan import check_task, parse_researcher
from rubicon.bench.records import run_rows, write_records
from rubicon.bench.summary import Cell, summarize

__all__ = ["MAX_RESTARTS", "VERSION", "Attempt", "AttemptResult", "Bench", "BenchError",
           "BenchPlan", "Cell", "check_task", "is_bench_dir", "parse_researcher", "run_rows",
           "summarize", "write_records"]
