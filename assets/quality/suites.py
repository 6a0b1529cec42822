"""Every table's suite (``SUITES``), running one on a frame (``validate``), and a suite's version.

A suite's version is a hash of what it declares, not of a file's bytes: the
canonical serialization of its rules (expectation type, kwargs, rule text,
the frame each runs on, the columns shown), its columns, keys and profile,
its derived frames (name, columns read, location and the code that builds
them, without line numbers or docstrings), and the Great Expectations
release that judges them. Editing a comment changes nothing; changing a rule,
or a reference value a rule accepts, validates the table's staged files again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from types import CodeType

import pandas as pd

from assets.quality.gx_adapter import run_rules
from assets.quality.mart_suites import MART_SUITES
from assets.quality.outcomes import ExpectationOutcome
from assets.quality.rules import Reference, Rule, Suite
from assets.quality.staged_suites import STAGED_SUITES

SUITES: dict[str, Suite] = {**STAGED_SUITES, **MART_SUITES}


def _is_key_rule(rule: Rule) -> bool:
    return rule.on == "rows" and rule.expectation in ("ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique")


def validate(table_name: str, frame: pd.DataFrame, reference: Reference,
             schema_frame: pd.DataFrame | None = None,
             key_frame: pd.DataFrame | None = None) -> list[ExpectationOutcome]:
    """Runs ``table_name``'s suite on ``frame``: one outcome per expectation, in suite order.

    ``frame`` needs the columns the value rules read (``SUITES[t].needed_columns``),
    or is their profile (assets/quality/profile.py, weighted by WEIGHT);
    ``schema_frame`` (default: ``frame``) is checked for every column.
    ``key_frame`` (with a profile) holds the rows whose key another row shares: the
    key rule runs on them, which fails exactly the rows it fails on the whole table.
    """
    suite = SUITES[table_name]
    if not frame.index.is_unique:
        frame = frame.reset_index(drop=True)
    schema = frame if schema_frame is None else schema_frame
    frames: dict[str, Callable[[], pd.DataFrame]] = {"rows": lambda: frame, "schema": lambda: schema}
    locations = {"rows": suite.location, "schema": ()}
    for name, derived in suite.derived.items():
        frames[name] = lambda d=derived: d.build(frame, reference)
        locations[name] = suite.location if derived.location is None else derived.location
    rules = suite.all_rules(reference)
    if key_frame is not None:
        rules = [replace(r, on="shared_keys") if _is_key_rule(r) else r for r in rules]
        frames["shared_keys"] = lambda: key_frame.reset_index(drop=True)
        locations["shared_keys"] = suite.location
    return run_rules(table_name, frames, rules, locations)


# --- versions from declared content ---------------------------------------------------------


def _code(code: CodeType, doc: str | None = None) -> list:
    """What a function does, without where it is written: bytecode, constants and names (no line table)."""
    # A docstring is the function's first constant, where a function without one has None.
    consts = [_code(c) if isinstance(c, CodeType) else repr(None if i == 0 and doc is not None and c == doc else c)
              for i, c in enumerate(code.co_consts)]
    return [code.co_code.hex(), consts, list(code.co_names)]


def _callable(fn) -> list:
    """A derived frame's builder: its code and, for a closure, what it closes over (a predicate, columns)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return [repr(fn)]
    closed = []
    for cell in fn.__closure__ or ():
        value = cell.cell_contents
        closed.append(_callable(value) if callable(value) else repr(value))
    return [fn.__qualname__, _code(code, fn.__doc__), closed]


def declaration(suite: Suite, reference: Reference) -> dict:
    """A suite's declared content, canonical: what its version is the hash of."""
    rules = [
        {"expectation": r.expectation, "kwargs": r.kwargs, "rule": r.rule, "on": r.on, "show": list(r.show),
         "subject": r.subject}
        for r in suite.all_rules(reference)
    ]
    derived = {name: {"needs": list(d.needs), "location": d.location, "build": _callable(d.build)}
               for name, d in sorted(suite.derived.items())}
    return {"table": suite.table, "columns": suite.columns, "not_null": suite.not_null, "unique": suite.unique,
            "location": suite.location, "unique_show": suite.unique_show, "profile": suite.profile,
            "rules": rules, "derived": derived, "great_expectations": metadata.version("great_expectations")}


def suite_version(suite: Suite, reference: Reference) -> str:
    """The hash of ``suite``'s declaration with ``reference``'s accepted values (16 hex digits)."""
    text = json.dumps(declaration(suite, reference), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
