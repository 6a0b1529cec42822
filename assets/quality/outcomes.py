"""What a check returns: one ExpectationOutcome per expectation, made from a Great Expectations result.

Failure messages name the table, the expectation, the column, how many rows
fail and up to MAX_EXAMPLES examples with the file and line they came from.
They never show personal data: the contract's private fields
(``assets.ingest.contract.private_fields()``: candidate keys, visitor and
session ids, application keys) are kept out of every example.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import pandas as pd

from assets.ingest.contract import private_fields
from assets.quality.rules import FILE_LOCATION, WEIGHT, Rule

# Values that identify a person or a visitor (or hash one): never shown in an example or a message.
PRIVATE = private_fields()
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation evaluated on one table: a row of audit.check_results."""

    table_name: str
    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_between
    column_name: str | None
    rule: str  # what it asserts, in words: "impressions >= clicks"
    passed: bool
    failed_rows: int | None
    examples: tuple[str, ...]
    message: str
    check_name: str = ""
    # Rows a row-level failure took out of the staged table into staging.quarantine (assets/quality/containment.py).
    quarantined: int = 0
    # The failing rows' identities (file_hash, line_number, or a profile's group values), for containment.
    failing: object = field(default=None, compare=False, repr=False)
    containable: bool = False  # a row-level rule on a staged table: its failing rows can be quarantined

    @property
    def contained(self) -> bool:
        """A row-level failure whose rows left the staged table for the quarantine."""
        return not self.passed and self.containable and self.quarantined > 0


class Verdicts(list):
    """A check's outcomes, with what the gate writes once it has recorded them (``after(con)``, or None):
    a check that runs ahead, in a thread of the gate, only reads."""

    def __init__(self, outcomes=(), after=None):
        super().__init__(outcomes)
        self.after = after


def snake(class_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in class_name).lstrip("_")


def _fmt(value) -> str:
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    return repr(value) if isinstance(value, str) else str(value)


def examples(frame: pd.DataFrame, indices: Sequence, show: Sequence[str], location: Sequence[str]) -> list[str]:
    """Up to five distinct illustrations of failing rows, each with where the first one is."""
    where = [c for c in location if c in frame.columns and c not in PRIVATE]
    implied = {"file_hash"} if "source_file" in where else set()
    shown = [c for c in show if c in frame.columns and c not in PRIVATE and c not in where and c not in implied]
    out: dict[str, str] = {}
    for i in indices:
        if i not in frame.index:
            continue
        row = frame.loc[i]
        values = ", ".join(f"{c}={_fmt(row[c])}" for c in shown)
        if values and values in out:
            continue
        if list(where) == list(FILE_LOCATION):
            place = f"{row['source_file']} line {_fmt(row['line_number'])}"
        else:
            place = ", ".join(f"{c}={_fmt(row[c])}" for c in where)
        text = f"{values} ({place})" if values and place else values or place
        if text:
            out[values or text] = text
        if len(out) == MAX_EXAMPLES:
            break
    return list(out.values())


def outcome(table: str, rule: Rule, result, frame: pd.DataFrame | None, location: Sequence[str],
            error: str | None = None) -> ExpectationOutcome:
    """The outcome of ``rule`` from its GX result (a gx_runner.Result) on ``frame``, or from the error."""
    expectation = snake(rule.expectation)
    column = rule.column_name
    subject = f"{table}.{column}" if column and "," not in column else table
    if error is None and result is not None and result.exception_info.get("raised_exception"):
        error = (result.exception_info.get("exception_message") or "").splitlines()[0] or "evaluation failed"
    if error is not None:
        return ExpectationOutcome(table, expectation, column, rule.rule, False, None, (),
                                  f"{subject}: {expectation} ({rule.rule}) could not be evaluated: {error}")
    res = result.result or {}
    failed = res.get("unexpected_count")
    total = res.get("element_count")
    indices = res.get("partial_unexpected_index_list") or []
    if not result.success and frame is not None and rule.on != "schema" and "file_hash" in frame.columns:
        every = res.get("unexpected_index_list")
        every = indices if every is None else every
        failing = frame.loc[frame.index.isin(every)]
    else:
        failing = None
    if frame is not None and WEIGHT in frame.columns and total is not None:
        # A profile row stands for WEIGHT table rows: count those, not the profile's rows.
        indices = res.get("unexpected_index_list") or []
        total = int(frame[WEIGHT].sum())
        if failed is not None:
            failed = int(frame.loc[frame.index.isin(indices), WEIGHT].sum())
    if rule.on == "shared_keys":
        total = None  # only the rows that share a key were read; the table's size is not known here
    if result.success:
        scope = (f" on all {total:,} rows" if total is not None
                 else ": no two rows share a key" if rule.on == "shared_keys" else "")
        return ExpectationOutcome(table, expectation, column, rule.rule, True, failed if failed is not None else 0,
                                  (), f"{subject}: {expectation} ({rule.rule}) passed{scope}")
    if failed is not None:
        shown = examples(frame, indices, rule.show or rule.columns, location)
        what = f"{failed:,} of {total:,} rows fail" if total is not None else f"{failed:,} rows fail"
    else:
        # Table-level expectations (the column set) report what they observed, not rows.
        observed = res.get("observed_value")
        if rule.expectation == "ExpectTableColumnsToMatchSet":
            missing = sorted(set(rule.kwargs["column_set"]) - set(observed or []))
            shown = [f"missing column {m!r}" for m in missing[:MAX_EXAMPLES]]
            failed = None
        else:
            shown = [f"observed {observed}"]
        what = "fails"
    tail = f"; e.g. {'; '.join(shown)}" if shown else ""
    return ExpectationOutcome(table, expectation, column, rule.rule, False, failed, tuple(shown),
                              f"{subject}: {expectation} ({rule.rule}): {what}{tail}",
                              failing=failing, containable=failing is not None and failed is not None)


def merge(table_name: str, chunks: list[list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """One outcome per expectation from the outcomes of each chunk of a table."""
    if len(chunks) == 1:
        return chunks[0]
    merged = []
    for parts in zip(*chunks):
        first = parts[0]
        failing = [o for o in parts if not o.passed]
        if not failing:
            merged.append(replace(first, failed_rows=0, message=f"{first.message} (in {len(parts)} chunks)"))
            continue
        counts = [o.failed_rows for o in failing if o.failed_rows is not None]
        failed = sum(counts) if counts else None
        shown = tuple(e for o in failing for e in o.examples)[:MAX_EXAMPLES]
        subject = f"{table_name}.{first.column_name}" if first.column_name and "," not in first.column_name \
            else table_name
        what = f"{failed:,} rows fail" if failed is not None else "fails"
        frames = [o.failing for o in failing if o.failing is not None]
        merged.append(replace(
            first, passed=False, failed_rows=failed, examples=shown,
            failing=pd.concat(frames, ignore_index=True) if frames else None,
            containable=all(o.containable for o in failing),
            message=f"{subject}: {first.expectation} ({first.rule}): {what} "
                    f"(in {len(failing)} of {len(parts)} chunks); e.g. {'; '.join(shown)}",
        ))
    return merged
