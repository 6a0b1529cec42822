"""assets/lifetime.py: what a process loads once is left alone by the garbage collector, and the rest is not."""

from __future__ import annotations

import json

from conftest import fresh_python


def _python(script: str) -> dict:
    """``script`` in a fresh interpreter (a freeze is for the life of a process: not this test's); its last line."""
    done = fresh_python(script)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_cycle_made_while_loading_is_kept_one_made_after_is_collected_and_the_thresholds_come_back():
    seen = _python(
        "import gc, json, weakref\nfrom assets.lifetime import LOADING_THRESHOLD, loading\n"
        "class Node: pass\n"
        "def cycle():\n    a, b = Node(), Node()\n    a.b, b.a = b, a\n    return weakref.ref(a)\n"
        "before = gc.get_threshold()\n"
        "with loading():\n    inside = gc.get_threshold()\n    loaded = cycle()\n"
        "after = cycle()\ngc.collect()\n"
        "try:\n    with loading():\n        raise KeyError('x')\nexcept KeyError:\n    pass\n"
        "print(json.dumps({'before': before, 'inside': inside, 'restored': gc.get_threshold(),\n"
        "                  'loading': LOADING_THRESHOLD, 'loaded_alive': loaded() is not None,\n"
        "                  'after_alive': after() is not None, 'frozen': gc.get_freeze_count()}))\n")
    assert seen["inside"] == list(seen["loading"]) != seen["before"]
    assert seen["restored"] == seen["before"]  # also after an exception inside
    assert seen["loaded_alive"], "a cycle made while loading was collected: it was not frozen"
    assert not seen["after_alive"], "a cycle made after loading was not collected"
    assert seen["frozen"] > 0


def test_the_gx_worker_has_frozen_what_it_loaded_and_collects_with_the_usual_thresholds():
    seen = _python(
        "import gc, json\nfrom assets.quality import gx_runner\ngx_runner.start()\n"
        "pool = gx_runner._POOL\n"
        "frozen, threshold = pool.submit(gc.get_freeze_count).result(), pool.submit(gc.get_threshold).result()\n"
        "modules = pool.submit(eval, \"'great_expectations' in __import__('sys').modules\").result()\n"
        "gx_runner.stop()\n"
        "print(json.dumps({'frozen': frozen, 'threshold': threshold, 'usual': gc.get_threshold(), 'gx': modules}))\n")
    assert seen["gx"], "the worker's first task did not import Great Expectations"
    assert seen["frozen"] > 100_000, seen  # GX and what it imports: several hundred thousand objects
    assert seen["threshold"] == seen["usual"]
