"""The Great Expectations worker: it leaves with the process that started it, even one that is killed."""

from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import fresh_python


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_worker_exits_when_its_parent_dies_without_stopping_it():
    script = ("import os, time\nfrom assets.quality import gx_runner\ngx_runner.start()\n"
              "while not gx_runner._POOL._processes: time.sleep(0.05)\n"
              "print(*gx_runner._POOL._processes, flush=True)\nos._exit(0)\n")
    done = fresh_python(script)
    workers = [int(p) for p in done.stdout.split()]
    assert workers, done.stdout + done.stderr
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), f"worker(s) {workers} outlived their parent"


def test_a_worker_told_not_to_finish_leaves_in_the_middle_of_its_task():
    """stop(finish=False), for a night with nothing to do: the worker does not finish GX's import (here a
    long task) first; it is gone, and its task broken off, when stop returns."""
    from concurrent.futures.process import BrokenProcessPool

    import pytest

    from assets.quality import gx_runner

    gx_runner.start()
    pool = gx_runner._POOL
    long_task = pool.submit(time.sleep, 60)
    while not (pool._processes and long_task.running()):  # handed to the worker: no longer cancellable
        time.sleep(0.05)
    workers = list(pool._processes)
    stopping = threading.Thread(target=gx_runner.stop, kwargs={"finish": False}, daemon=True)
    stopping.start()
    stopping.join(timeout=30)  # a stop that waited for the task would take 60 s
    assert not stopping.is_alive(), "stop(finish=False) waited for the worker's task"
    assert gx_runner._POOL is None and not any(_alive(p) for p in workers)
    with pytest.raises(BrokenProcessPool):
        long_task.result(timeout=0)


def test_the_worker_defers_scipy_stats_and_a_rule_that_uses_it_gets_the_same_result():
    """The worker leaves GX's unused scipy.stats unloaded until a rule needs it; that rule then runs as here."""
    import pandas as pd

    from assets.quality import gx_runner

    values = ["a"] * 8 + ["b"] * 2
    rule = [("ExpectColumnKLDivergenceToBeLessThan",
             {"column": "channel", "partition_object": {"values": ["a", "b"], "weights": [0.5, 0.5]},
              "threshold": 0.1})]
    script = (
        "import json, pandas as pd\nfrom assets.quality import gx_runner\ngx_runner.start()\n"
        "loaded = lambda: gx_runner._POOL.submit(eval, \"'scipy.stats._stats_py' in __import__('sys').modules\").result()\n"
        "gx_runner._POOL.submit(int).result()\nbefore = loaded()\n"
        f"r = gx_runner.run(pd.DataFrame({{'channel': {values!r}}}), {rule!r})[0]\n"
        "print(json.dumps({'before': before, 'after': loaded(), 'success': r.success, 'result': r.result}))\n"
        "gx_runner.stop()\n")
    done = fresh_python(script)
    assert done.returncode == 0, done.stderr
    worker = json.loads(done.stdout.splitlines()[-1])
    assert worker["before"] is False, "scipy.stats was loaded in the worker before any rule used it"
    assert worker["after"] is True
    here = gx_runner.validate_frame(pd.DataFrame({"channel": values}), rule)[0]
    assert here.success is False and here.result["observed_value"] > 0.1
    assert (worker["success"], worker["result"]) == (here.success, here.result)


def test_a_deferred_module_imported_through_a_submodule_first_runs_once():
    """The stand-in is not in sys.modules: importing a submodule first loads scipy.stats once, as usual."""
    script = ("from assets.quality import gx_runner\ngx_runner.defer_imports()\nimport sys\n"
              "from scipy import stats\nbefore = 'scipy.stats' in sys.modules\n"
              "import scipy.stats._continuous_distns as distns\n"
              "print(before, isinstance(stats.norm, distns.norm_gen), sys.modules['scipy'].stats is sys.modules['scipy.stats'])\n")
    done = fresh_python(script)
    assert done.stdout.split() == ["False", "True", "True"], done.stdout + done.stderr


FRAME = {
    "key": ["a", "b", "c", "c", None, "e"],
    "other": ["x", "y", "z", "w", "v", None],
    "n": [1, 5, 3, -2, 7, None],
    "m": [1, 4, 3, -2, 9, 0],
    "file_hash": ["h"] * 6,
}
# Every expectation class the suites use (assets/quality/*_suites.py), failing, passing and unevaluable.
RULES = [
    ("ExpectColumnValuesToNotBeNull", {"column": "key"}),  # fails on one row
    ("ExpectColumnValuesToNotBeNull", {"column": "file_hash"}),
    ("ExpectColumnValuesToBeUnique", {"column": "key"}),  # fails: 'c' twice
    ("ExpectColumnValuesToBeUnique", {"column": "other"}),
    ("ExpectColumnValuesToBeBetween", {"column": "n", "min_value": 0}),  # fails on -2
    ("ExpectColumnValuesToBeBetween", {"column": "m", "min_value": -5, "max_value": 10}),
    ("ExpectColumnValuesToBeInSet", {"column": "file_hash", "value_set": ["h"]}),
    ("ExpectColumnValuesToBeNull", {"column": "n"}),  # fails
    ("ExpectColumnPairValuesToBeEqual", {"column_A": "n", "column_B": "m"}),  # fails
    ("ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": "m", "column_B": "n", "or_equal": True,
                                                 "ignore_row_if": "either_value_is_missing"}),  # fails
    ("ExpectCompoundColumnsToBeUnique", {"column_list": ["key", "other"]}),
    ("ExpectTableColumnsToMatchSet", {"column_set": ["key", "other", "n", "m", "file_hash"]}),
    ("ExpectTableColumnsToMatchSet", {"column_set": ["key", "missing"]}),  # fails
    ("ExpectColumnValuesToNotBeNull", {"column": "no_such_column"}),  # cannot be evaluated
]


def test_verdicts_first_give_what_one_full_validation_gives():
    """validate_frame asks GX for verdicts first and for counts and failing rows only where a rule fails:
    every result equals the one a single validation in the full result format gives."""
    import pandas as pd

    from assets.quality import gx_runner

    frame = pd.DataFrame(FRAME)
    rules = RULES
    gx, gxe, batch_definition = gx_runner._gx_parts()
    for complete in (False, True):
        fmt = ({"result_format": "COMPLETE"} if complete
               else {"result_format": "SUMMARY", "partial_unexpected_count": gx_runner.INDEX_SAMPLE})
        suite = gx.ExpectationSuite(name="one_full_validation")
        for i, (name, kwargs) in enumerate(rules):
            suite.add_expectation(getattr(gxe, name)(**kwargs, meta={"rule": i}))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        full = {r.expectation_config.meta["rule"]: r for r in batch.validate(suite, result_format=fmt).results}
        got = gx_runner.validate_frame(frame, rules, complete=complete)
        assert [g.success for g in got] == [bool(full[i].success) for i in range(len(rules))]
        assert [g.success for g in got].count(False) == 8
        for i, g in enumerate(got):
            expected = {k: v for k, v in (full[i].result or {}).items() if k in gx_runner.RESULT_KEYS}
            if g.success:  # what a passing rule reports: its rows counted, none failing (no examples to give)
                expected.pop("observed_value", None)
            assert g.result == expected, (rules[i], g.result, expected)
            assert g.exception_info == gx_runner._exception_info(full[i].exception_info)


def test_the_worker_runs_gx_without_sqlalchemy_and_every_rule_gives_the_same_result():
    """GX's SQL datasources are not imported in the worker (UNUSED_IMPORTS); every expectation class the
    suites use gives there what it gives here, where GX has SQLAlchemy."""
    import pandas as pd

    from assets.quality import gx_runner

    script = (
        "import json, sys, pandas as pd\nfrom assets.quality import gx_runner\ngx_runner.start()\n"
        f"frame, rules = pd.DataFrame({FRAME!r}), {RULES!r}\n"
        "out = [[(r.success, r.result, r.exception_info) if not isinstance(r, str) else r\n"
        "        for r in gx_runner.run(frame, rules, complete=c)] for c in (False, True)]\n"
        "sa = gx_runner._POOL.submit(eval, \"[m for m, v in __import__('sys').modules.items() \"\n"
        "                            \"if m.split('.')[0] == 'sqlalchemy' and v is not None]\").result()\n"
        "print(json.dumps({'sqlalchemy': sa, 'out': out}, default=str))\ngx_runner.stop()\n")
    done = fresh_python(script)
    assert done.returncode == 0, done.stderr
    worker = json.loads(done.stdout.splitlines()[-1])
    assert worker["sqlalchemy"] == [], "the worker imported SQLAlchemy"
    here = [[(r.success, r.result, r.exception_info) if not isinstance(r, str) else r
             for r in gx_runner.validate_frame(pd.DataFrame(FRAME), RULES, complete=c)] for c in (False, True)]
    assert json.loads(json.dumps(here, default=str)) == worker["out"]
    assert sum(not r[0] for r in worker["out"][0]) == 8


def _gx_own(Expectation, gx_runner):
    """A context in which Expectation's kwargs methods and configuration property are GX's originals."""
    import contextlib

    @contextlib.contextmanager
    def own():
        held = {name: Expectation.__dict__[name] for name in (*gx_runner.KWARG_METHODS, "configuration")}
        for name in gx_runner.KWARG_METHODS:
            setattr(Expectation, name, held[name].__wrapped__)
        Expectation.configuration = property(held["configuration"].fget.__wrapped__)
        try:
            yield
        finally:
            for name, value in held.items():
                setattr(Expectation, name, value)
    return own()


def test_an_expectation_s_configuration_is_built_once_per_call_and_its_kwargs_are_gx_own(monkeypatch):
    """build_configuration_once_per_call: each kwargs method of every expectation class the suites use
    returns what GX's own code returns, building the configuration once per call instead of once per key."""
    from great_expectations.expectations.expectation import Expectation

    from assets.quality import gx_runner

    _, gxe, _ = gx_runner._gx_parts()  # the context is built with the methods held per call
    builds = []
    model_dict = Expectation.dict
    monkeypatch.setattr(Expectation, "dict", lambda self, *a, **k: builds.append(1) or model_dict(self, *a, **k))
    runtime = [None, {"result_format": "BOOLEAN_ONLY"},
               {"result_format": {"result_format": "SUMMARY", "partial_unexpected_count": gx_runner.INDEX_SAMPLE}}]
    held = own = 0
    for i, (name, kwargs) in enumerate(RULES):
        expectation = getattr(gxe, name)(**kwargs, meta={"rule": i})
        for method in gx_runner.KWARG_METHODS:
            calls = [(("result_format",) if method == "_get_success_kwarg" else (rc,)) for rc in runtime] \
                if method in ("_get_runtime_kwargs", "_get_success_kwarg") else [()]
            for args in calls:
                builds.clear()
                got = getattr(expectation, method)(*args)
                held += len(builds)
                assert len(builds) == 1, (name, method)
                builds.clear()
                with _gx_own(Expectation, gx_runner):
                    assert got == getattr(expectation, method)(*args), (name, method, args)
                own += len(builds)
    assert own > 2 * held  # GX's own code builds it for every key it reads


def test_a_configuration_is_held_for_its_own_expectation_and_call_only():
    """The held configuration serves reads inside the call on the same expectation only: a call on another
    expectation made inside it sees its own, a change between two calls is seen, and a call that raises
    leaves nothing held."""
    from great_expectations.expectations.expectation import Expectation

    from assets.quality import gx_runner

    _, gxe, _ = gx_runner._gx_parts()
    one = gxe.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=9)
    other = gxe.ExpectColumnValuesToBeBetween(column="m", min_value=-5, max_value=10)
    seen = []
    default_value = Expectation._get_default_value

    def reads_another(self, key):  # GX calls it inside _get_success_kwargs; here it reads another expectation
        if self is one and not seen:
            seen.append((other._get_success_kwargs()["column"], other.configuration.kwargs["column"]))
        return default_value(self, key)

    Expectation._get_default_value = reads_another
    try:
        assert one._get_success_kwargs()["column"] == "n" and seen == [("m", "m")]
    finally:
        Expectation._get_default_value = default_value
    one.mostly = 0.5
    assert one._get_success_kwargs()["mostly"] == 0.5
    with pytest.raises(ValueError):
        one._get_runtime_kwargs({"result_format": {"include_unexpected_rows": True}})
    assert getattr(gx_runner._HELD, "call", None) is None
    assert one.configuration is not one.configuration  # outside a call: built on every read, as GX does


@pytest.mark.parametrize("change, says", [
    ("gx_runner.KWARG_METHODS += ('_get_kwargs_of_a_later_release',)", "without _get_kwargs_of_a_later_release"),
    ("gx_runner.HELD_PER_CALL_GX = ('1.23.9',)", "only 1.23.9 were read"),
], ids=["a method it lacks", "another release"])
def test_another_gx_runs_its_own_code_and_the_log_says_so(change, says):
    """On a GX release that lacks one of the kwargs methods, or one not read for this, nothing is wrapped:
    GX's own code runs (the configuration built on every read), validation goes on, and the log says why."""
    script = (
        "import logging, os\nos.environ['GX_ANALYTICS_ENABLED'] = 'false'\nlogging.basicConfig()\n"
        "from great_expectations.expectations.expectation import Expectation\n"
        "before = Expectation.__dict__['configuration']\n"
        "from assets.quality import gx_runner\nimport pandas as pd\n"
        f"{change}\n"
        "r = gx_runner.validate_frame(pd.DataFrame({'a': [1, None]}), "
        "[('ExpectColumnValuesToNotBeNull', {'column': 'a'})])\n"
        "print(Expectation.__dict__['configuration'] is before, "
        "hasattr(Expectation._get_success_kwargs, '__wrapped__'), r[0].success, r[0].result['unexpected_count'])\n")
    done = fresh_python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False", "1"]
    assert "its expectations' configuration is built on every read" in done.stderr and says in done.stderr
