"""Running rules with Great Expectations: each rule on its frame, one outcome per rule, in order.

Great Expectations itself runs in assets/quality/gx_runner.py (a worker process
when there is one); this module builds the frames a batch of rules reads,
hands the rules over and makes outcomes of the results. A frame that cannot be
built, a column that is missing or an expectation that cannot be evaluated
fails its rules with the reason: the gate fails closed, it never crashes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import pandas as pd

from assets.quality import gx_runner
from assets.quality.outcomes import ExpectationOutcome, outcome
from assets.quality.rules import WEIGHT, Rule

# Set on import, in the main thread, before anything can import Great Expectations
# (assets.quality.gx_runner, imported above, sets it too).
os.environ["GX_ANALYTICS_ENABLED"] = "false"


def warm_up() -> None:
    """Imports Great Expectations in this process now rather than on the first check."""
    gx_runner.warm_up()


def _run_gx(frame: pd.DataFrame, rules: Sequence[Rule]) -> dict[int, object]:
    """Validates ``frame`` against ``rules``: a gx_runner.Result, or the error that kept a rule from being
    built, keyed by the rule's position."""
    # A profile's failing rows are weighted, so every failing index is needed (a profile is small).
    # Staged rows that fail are quarantined, so every failing index is needed there too.
    complete = WEIGHT in frame.columns or "file_hash" in frame.columns
    results = gx_runner.run(frame, [(r.expectation, r.kwargs) for r in rules], complete=complete)
    return dict(enumerate(results))


def run_rules(table: str, frames: dict[str, Callable[[], pd.DataFrame]], rules: Sequence[Rule],
              locations: dict[str, tuple[str, ...]]) -> list[ExpectationOutcome]:
    """Runs each rule on its frame (``frames[rule.on]``); a frame that cannot be built fails its rules."""
    outcomes: dict[int, ExpectationOutcome] = {}
    for on in dict.fromkeys(r.on for r in rules):
        batch = [(i, r) for i, r in enumerate(rules) if r.on == on]
        location = locations.get(on, ())
        try:
            frame = frames[on]()
            missing = sorted({c for _, r in batch for c in r.columns} - set(frame.columns))
            runnable = [(i, r) for i, r in batch if not set(r.columns) & set(missing)]
            results = _run_gx(frame, [r for _, r in runnable]) if runnable else {}
        except Exception as exc:  # noqa: BLE001 - a broken frame is a failed check, not a crash
            for i, r in batch:
                outcomes[i] = outcome(table, r, None, None, location, error=f"{type(exc).__name__}: {exc}")
            continue
        for k, (i, r) in enumerate(runnable):
            result = results.get(k, "no result")
            if isinstance(result, str):
                outcomes[i] = outcome(table, r, None, None, location, error=result)
            else:
                outcomes[i] = outcome(table, r, result, frame, location)
        for i, r in batch:
            if i not in outcomes:
                absent = [c for c in r.columns if c in missing]
                outcomes[i] = outcome(table, r, None, None, location, error=f"column(s) {absent} missing")
    return [outcomes[i] for i in range(len(rules))]
