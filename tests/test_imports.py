"""Imports go one way: pipelines/ -> assets/. Domain code imports no Dagster; only the thin wrappers do.

Read from the source with ast (no module is imported), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"

# The thin Dagster wrappers, by name: everything else under assets/ is plain domain code.
WRAPPERS = {
    "assets/wrappers.py",
    "assets/staging/asset.py",
    "assets/marts/asset.py",
    "assets/publish/asset.py",
    "assets/report/asset.py",
    "assets/quality/freshness_check.py",
    "assets/quality/asset.py",
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (top level, functions, branches)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules() -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): imported_modules(p) for p in sorted(ASSETS.rglob("*.py"))}


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_scanner_sees_every_kind_of_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import dagster as dg\nfrom pipelines.settings import from_env\n"
                      "def f():\n    import pipelines.resources\n    from dagster import asset\n")
    assert imported_modules(sample) == {"dagster", "pipelines.settings", "pipelines.resources"}


def test_no_module_under_assets_imports_pipelines():
    offenders = {path: sorted(m for m in mods if _top(m) == "pipelines") for path, mods in _modules().items()}
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_domain_modules_import_no_dagster():
    modules = _modules()
    assert WRAPPERS <= set(modules), sorted(WRAPPERS - set(modules))  # a renamed wrapper must be renamed here
    offenders = {path: sorted(m for m in mods if _top(m).startswith("dagster"))
                 for path, mods in modules.items() if path not in WRAPPERS}
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_every_wrapper_knows_dagster():
    """The allow-list stays honest: a wrapper that no longer imports Dagster is domain code now."""
    modules = _modules()
    assert [path for path in sorted(WRAPPERS) if "dagster" not in {_top(m) for m in modules[path]}] == []
