"""Great Expectations, run in a worker process of its own (or in this one when there is none).

Importing GX takes 4-6 s of Python work. In a thread it competed for the GIL
with the run's own Python work (parsing the reach and hiring exports), so a
night paid for most of it anyway. ``start()`` spawns one worker process that
imports GX on the other core while the run loads; ``validate_frame`` is what
it runs: one pandas frame, a list of expectations, plain results back. This
module imports neither Dagster nor GX at import time, so the worker starts
fast and the CLI can start it before anything else.

Without a worker (unit tests, a worker that died), ``run`` validates in this
process, with the same code: the gate never depends on the worker being there.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import importlib.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import types
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assets.lifetime import loading

if TYPE_CHECKING:  # pandas comes with the first frame: start() spawns the worker without waiting for it
    import pandas as pd

# Set before anything can import Great Expectations, here and in the spawned worker.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

log = logging.getLogger(__name__)

# Failing row indices asked from GX for a plain frame: enough to find five distinct examples.
INDEX_SAMPLE = 200
# The keys of a GX result that the gate reads (the rest is not sent back from the worker).
RESULT_KEYS = ("element_count", "unexpected_count", "partial_unexpected_index_list", "unexpected_index_list",
               "observed_value")


@dataclass(frozen=True)
class Result:
    """What the gate reads of one expectation's GX result."""

    success: bool
    result: dict = field(default_factory=dict)
    exception_info: dict = field(default_factory=dict)


_LOCK = threading.Lock()
_IN_PROCESS = threading.Lock()
_GX: tuple | None = None
_POOL: ProcessPoolExecutor | None = None
# This process's end of a pipe to the worker: closing it, or this process ending, makes the worker leave.
_LEAVE: multiprocessing.connection.Connection | None = None
# A check that waits longer than this on the worker fails (closed) instead of hanging the night.
WORKER_TIMEOUT_S = 3600
# Imported by GX at its own import for its distribution expectations (KS tests, KL divergence), which
# no suite here uses: a third of GX's import (1.0 s of 3 s). The worker loads them on first use instead.
DEFERRED_IMPORTS = ("scipy.stats",)
# GX imports SQLAlchemy, when it is installed, for its SQL datasources: 0.3-0.4 s of the worker's start. Every
# suite here validates a pandas frame, and GX treats SQLAlchemy as optional (its compatibility module
# catches the ImportError), so the worker runs GX as it runs where SQLAlchemy is not installed.
UNUSED_IMPORTS = ("sqlalchemy",)


def _gx_parts():
    """(gx, expectations module, batch definition): imported and built once per process."""
    global _GX
    with _LOCK:
        if _GX is None:
            _GX = _build_gx()
        return _GX


def _map_expectations() -> tuple[type, ...]:
    """GX's row-wise expectation classes: their result counts the frame's rows (element_count)."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation


def _build_gx():
    if os.environ.get("GX_ANALYTICS_ENABLED") != "false":
        raise RuntimeError("GX_ANALYTICS_ENABLED must be 'false' before Great Expectations is imported")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch below 1 GB (a full hash_pandas_object and md5),
    # which on 5M sessions costs more than the checks themselves, and an ephemeral
    # context never uses it. The threshold is a module constant, not a setting.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0
    build_configuration_once_per_call()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("talent_quality_gate").add_dataframe_asset("frame")
    return gx, gxe, asset.add_batch_definition_whole_dataframe("whole_frame")


# Expectation methods that read ``self.configuration`` once per key they look up. The property builds a
# new ExpectationConfiguration each time (a pydantic ``dict()`` of the whole expectation): 74 builds per
# expectation in a validation, a third of the marts' suites' time (cProfile, GX 1.24.1).
KWARG_METHODS = ("_get_domain_kwargs", "_get_success_kwargs", "_get_success_kwarg", "_get_runtime_kwargs")
# The GX releases whose methods were read and tested for this (they only read the configuration, and
# nothing in GX overrides them or the property); another release runs its own code.
HELD_PER_CALL_GX = ("1.24.1",)
_HELD = threading.local()


def build_configuration_once_per_call() -> None:
    """Within one call of a KWARG_METHODS method, ``configuration`` is built once and read again.

    GX's own method bodies run unchanged; only the property, read inside such a
    call on the same expectation, returns the configuration built at the call's
    start (the methods only read it; outside such a call it is built anew, as
    GX does). For the whole process, on a GX release of HELD_PER_CALL_GX only. The
    results are GX's: tests/test_gx_runner.py compares them with GX's own code for
    every expectation class the suites use. Idempotent. GX's originals stay as
    ``__wrapped__`` of each method and of the property's getter.
    """
    import great_expectations
    from great_expectations.expectations.expectation import Expectation

    built = Expectation.__dict__.get("configuration")
    missing = [n for n in KWARG_METHODS if not callable(Expectation.__dict__.get(n))]
    if not isinstance(built, property):
        missing.append("configuration (a property)")
    if great_expectations.__version__ not in HELD_PER_CALL_GX or missing:
        log.warning("Great Expectations %s (%s): its expectations' configuration is built on every read",
                    great_expectations.__version__,
                    f"without {', '.join(missing)}" if missing else f"only {', '.join(HELD_PER_CALL_GX)} were read "
                    "for holding it per call")
        return
    if getattr(built.fget, "_held_per_call", False):
        return

    def configuration(self):
        held = getattr(_HELD, "call", None)
        return held[1] if held is not None and held[0] is self else built.fget(self)

    functools.update_wrapper(configuration, built.fget)
    configuration._held_per_call = True

    def once_per_call(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            outer = getattr(_HELD, "call", None)
            if outer is not None and outer[0] is self:
                return method(self, *args, **kwargs)
            try:
                _HELD.call = (self, built.fget(self))
                return method(self, *args, **kwargs)
            finally:
                _HELD.call = outer
        return call

    for name in KWARG_METHODS:
        setattr(Expectation, name, once_per_call(Expectation.__dict__[name]))
    Expectation.configuration = property(configuration)


def warm_up() -> None:
    """Imports Great Expectations and builds its context now rather than on the first check."""
    _gx_parts()


def _load_in_worker() -> None:
    """The worker's first task: ``warm_up``, whose modules and context live as long as the worker
    (assets/lifetime.py: the collector does not walk them again and again)."""
    with loading():
        warm_up()


class _Deferred(types.ModuleType):
    """A submodule's stand-in as its package's attribute: its first attribute lookup imports the real one."""

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__name__), attr)


def defer_imports(names: tuple[str, ...] = DEFERRED_IMPORTS) -> None:
    """Makes ``from package import module`` cost nothing, for each dotted name in ``names``, until it is used.

    The package's attribute becomes a stand-in whose first attribute lookup imports the real module
    through the import system (once; the package's attribute is then the real module). The stand-in is
    not in sys.modules, so ``import package.module``, or a submodule of it, loads the real one as usual.
    (The standard library's LazyLoader puts its module there, and a submodule imported before that
    module is used then runs twice, the review found.) A module already imported, or not installed,
    is left as it is.
    """
    for name in names:
        package, _, child = name.rpartition(".")
        if not package or name in sys.modules:
            continue
        try:
            if importlib.util.find_spec(name) is None:  # imports the package, not the module
                continue
        except ImportError:
            continue
        namespace = vars(sys.modules[package])  # not hasattr: scipy's own __getattr__ imports its submodules
        if child not in namespace:
            namespace[child] = _Deferred(name)


def block_imports(names: tuple[str, ...] = UNUSED_IMPORTS) -> None:
    """``import name`` raises ImportError in this process from now on, for each name not imported yet.

    Python's own mechanism: None in sys.modules for that name. Only for the worker, whose GX needs none
    of them (this process's Dagster uses SQLAlchemy).
    """
    for name in names:
        sys.modules.setdefault(name, None)


def _worker_init(leave: multiprocessing.connection.Connection) -> None:
    """In the worker: leave at once when the process that spawned it closes ``leave``'s other end or is
    gone (killed, OOM, os._exit: the kernel closes it then), and otherwise leave fast.

    With GX imported, the interpreter's last garbage collections at exit walk millions of objects
    only to free memory the OS takes back anyway: 0.7-0.9 s that ``stop()`` would wait for.
    ``gc.freeze()`` at exit skips those walks; atexit handlers and module teardown still run.
    GX's import is what the first check waits for, so what it imports unused is deferred or not imported.
    """
    def watch() -> None:
        multiprocessing.connection.wait([leave])  # ready at end of file: no writer left
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
    atexit.register(gc.freeze)
    defer_imports()
    block_imports()


def _exception_info(info: dict | None) -> dict:
    """raised_exception and exception_message of a GX result; GX 1.x nests a metric's failure under its id."""
    if not info:
        return {}
    if "raised_exception" in info:
        return {k: info[k] for k in ("raised_exception", "exception_message") if k in info}
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return {"raised_exception": True, "exception_message": nested.get("exception_message")}
    return {}


def validate_frame(frame: pd.DataFrame, expectations: list[tuple[str, dict]],
                   complete: bool = False) -> list[Result | str]:
    """Validates ``frame`` against (expectation class, kwargs) pairs, in order.

    Each entry is a Result, or the error (a string) that kept that expectation
    from being built. ``complete`` asks for every failing row index (weighted
    profiles need them all; they are small), otherwise the first INDEX_SAMPLE.
    GX gives the verdicts first; only a rule that fails or cannot be evaluated is
    validated again for its counts and failing rows (each result is the one a single
    full validation gives: tests/test_gx_runner.py).
    """
    gx, gxe, batch_definition = _gx_parts()
    out: list[Result | str | None] = [None] * len(expectations)
    built = {}
    for i, (name, kwargs) in enumerate(expectations):
        try:
            built[i] = getattr(gxe, name)(**kwargs, meta={"rule": i})
        except Exception as exc:  # noqa: BLE001 - a malformed expectation fails alone, with its reason
            out[i] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    if not built:
        return [o if o is not None else "no result" for o in out]
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    # Verdicts first, in GX's cheapest result format (half the time of SUMMARY on the marts' suites). A
    # row-wise expectation that passed failed no row of the frame: its counts are known without GX
    # counting them. The expectations that failed or could not be evaluated run again in the full format,
    # for their counts and failing rows.
    again = []
    for r in _validate(gx, batch, built.values(), {"result_format": "BOOLEAN_ONLY"}):
        i, info = r.expectation_config.meta["rule"], _exception_info(r.exception_info)
        if r.success and not info.get("raised_exception"):
            rows = {"element_count": len(frame), "unexpected_count": 0, "partial_unexpected_index_list": []}
            rows |= {"unexpected_index_list": []} if complete else {}
            out[i] = Result(success=True, result=rows if isinstance(built[i], _map_expectations()) else {},
                            exception_info=info)
        else:
            again.append(i)
    if again:
        result_format = ({"result_format": "COMPLETE"} if complete
                         else {"result_format": "SUMMARY", "partial_unexpected_count": INDEX_SAMPLE})
        rebuilt = [getattr(gxe, expectations[i][0])(**expectations[i][1], meta={"rule": i}) for i in again]
        for r in _validate(gx, batch, rebuilt, result_format):
            res = r.result or {}
            out[r.expectation_config.meta["rule"]] = Result(
                success=bool(r.success),
                result={k: res[k] for k in RESULT_KEYS if k in res},
                exception_info=_exception_info(r.exception_info),
            )
    return [o if o is not None else "no result" for o in out]


def _validate(gx, batch, expectations, result_format: dict) -> list:
    """GX's results of ``expectations`` (one suite) on ``batch``."""
    suite = gx.ExpectationSuite(name="talent_quality_gate")
    for expectation in expectations:
        suite.add_expectation(expectation)
    return batch.validate(suite, result_format=result_format).results


def start() -> None:
    """Spawns the worker and has it import GX now (idempotent; a failure leaves validation in-process)."""
    global _POOL, _LEAVE
    with _LOCK:
        if _POOL is not None:
            return
        reader = None
        try:
            reader, _LEAVE = multiprocessing.Pipe(duplex=False)
            # spawn, not fork: the parent holds DuckDB and Dagster threads that a fork would copy mid-flight.
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_worker_init, initargs=(reader,))
            # The first submit spawns the worker (there is only ever one: a broken pool is not refilled),
            # which then holds its own copy of ``reader``; this process keeps only the writing end.
            _POOL.submit(_load_in_worker)
        except Exception:  # noqa: BLE001 - validation then runs in this process, just slower to start
            log.warning("could not start the Great Expectations worker; validating in-process", exc_info=True)
            _POOL = None
            if _LEAVE is not None:
                _LEAVE.close()
                _LEAVE = None
        finally:
            if reader is not None:
                reader.close()


def stop(finish: bool = True) -> None:
    """Ends the worker (a finished run calls this; at exit, concurrent.futures would too).

    ``finish=False`` (a night that turns out to have nothing to do) does not let the worker finish
    what it is doing (GX's import): it leaves as soon as its watcher thread runs, within milliseconds
    during an import (a C call that held the GIL for seconds would delay it that long).
    """
    global _POOL, _LEAVE
    with _LOCK:
        pool, _POOL = _POOL, None
        leave, _LEAVE = _LEAVE, None
    if pool is not None:
        if not finish:
            leave.close()
        pool.shutdown(wait=True, cancel_futures=True)  # the pool's queues are released before this returns
        leave.close()


def run(frame: pd.DataFrame, expectations: list[tuple[str, dict]], complete: bool = False) -> list[Result | str]:
    """``validate_frame`` in the worker when there is one, else here."""
    pool = _POOL
    if pool is not None:
        try:
            return pool.submit(validate_frame, frame, expectations, complete).result(timeout=WORKER_TIMEOUT_S)
        except BrokenProcessPool:
            log.warning("the Great Expectations worker died; validating in-process from now on")
            stop()
    with _IN_PROCESS:  # the checks run ahead in threads; one GX context is not shared between them
        return validate_frame(frame, expectations, complete)
