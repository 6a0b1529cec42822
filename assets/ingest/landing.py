"""What a landing folder may hold, and what becomes of every file in it.

Every file in ``data/raw/<source>/`` gets exactly one outcome in the ledger;
nothing is skipped without a word. This module decides from the name alone:

- an **export** of the folder's types (``SUFFIXES``) is hashed and parsed;
- a temporary or system file (``IGNORED_RULES``: editor and Office lock
  files, partial downloads, hidden files such as ``.DS_Store``) is recorded
  as ``ignored`` with the rule that matched;
- anything else (an ``.xlsx`` among ad exports, ``.xls``, ``.zip``, ``.json``,
  a stray text file, a sub-folder) is recorded as ``rejected`` with a message
  naming it and the types the folder takes.

Outcomes decided by name are identified in the ledger by their path
(``name_identity``), not their content: the rule that excludes them is about
the name, so the same bytes arriving later under an export's name are still
parsed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

SUFFIXES: dict[str, tuple[str, ...]] = {
    "reach": (".csv", ".csv.gz", ".tsv"),
    "visitors": (".csv", ".csv.gz", ".parquet"),
    "hiring": (".csv", ".xlsx"),
    "reference": (".csv",),
}

# (rule, pattern on the file name): the documented temporary and system files.
IGNORED_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("Office owner/lock file (~$...)", re.compile(r"^~\$")),
    ("LibreOffice lock file (.~lock.*#)", re.compile(r"^\.~lock\..*#$")),
    ("hidden or system file (.DS_Store, ._*, dot files)", re.compile(r"^\.")),
    ("Windows system file (Thumbs.db, desktop.ini)", re.compile(r"^(thumbs\.db|desktop\.ini)$", re.I)),
    ("partial download (.part, .partial, .crdownload, .download)",
     re.compile(r"\.(part|partial|crdownload|download)$", re.I)),
    ("temporary or backup file (.tmp, .temp, .swp, .bak, ~)", re.compile(r"(\.(tmp|temp|swp|bak)|~)$", re.I)),
)


@dataclass(frozen=True)
class LandingFile:
    path: Path
    verdict: str  # export | ignored | rejected
    reason: str | None = None


def classify(path: Path, source: str) -> LandingFile:
    """The outcome a file's name alone decides (``export`` means: hash and parse it)."""
    name = path.name
    if path.is_dir():
        return LandingFile(path, "rejected", f"{name}: is a folder; landing folders are read flat, "
                                             "move its files up into data/raw/" + source + "/")
    for rule, pattern in IGNORED_RULES:
        if pattern.search(name):
            return LandingFile(path, "ignored", f"{name}: ignored, {rule}")
    if name.lower().endswith(SUFFIXES[source]):
        return LandingFile(path, "export")
    suffix = "".join(path.suffixes[-2:]) if path.suffixes else "(none)"
    return LandingFile(path, "rejected",
                       f"{name}: unexpected file type {suffix!r} for {source} exports "
                       f"(this folder takes {', '.join(SUFFIXES[source])}); not read")


def landing(folder: Path, source: str) -> list[LandingFile]:
    """Every entry of a landing folder with its verdict, oldest first (the name breaks ties)."""
    if not folder.exists():
        return []
    entries = sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [classify(p, source) for p in entries]


def name_identity(source: str, path: Path) -> str:
    """The ledger identity of an outcome decided by name: its source and path, never its content."""
    return "name:" + hashlib.sha256(f"{source}|{path}".encode()).hexdigest()
