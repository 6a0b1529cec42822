"""PNG copies of the charts for slide decks, rendered by kaleido in a headless Chromium.

Debian's /usr/bin/chromium is used, or the browser the caller names (BROWSER_PATH, read in
pipelines/settings.py).
A failed PNG export never stops the report: the HTML is written and the
failure is returned in the summary.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import plotly.graph_objects as go

PNG_WIDTH = 1200
PNG_SCALE = 2
PNG_TIMEOUT_S = 90
# Chromium tries to reach Google services in the background; where the network
# refuses, those refusals pile up, so the renderer is started with them off.
CHROMIUM_EXTRA_FLAGS = (
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def chromium_path(browser_path: str = "") -> str | None:
    """``browser_path`` if given, else Debian's /usr/bin/chromium, else None (kaleido searches itself)."""
    if browser_path:
        return browser_path
    return str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.exists() else None


def _chromium_class():
    from choreographer.browsers.chromium import Chromium

    class OfflineChromium(Chromium):
        """kaleido's Chromium with background networking off (see CHROMIUM_EXTRA_FLAGS)."""

        def get_cli(self):
            cli = list(super().get_cli())
            return cli + [flag for flag in CHROMIUM_EXTRA_FLAGS if flag not in cli]

    return OfflineChromium


def export_pngs(jobs: list[tuple[go.Figure, Path]], workdir: Path, browser_path: str = "") -> dict:
    """Renders every figure to PNG in one headless Chromium; returns a status, never raises.

    Files are rendered into ``workdir`` and renamed into place, so a failed
    export never leaves half-written PNGs at the published paths.
    """
    started = time.monotonic()
    status = {"requested": True, "status": "ok", "files": 0, "error": None, "browser": chromium_path(browser_path)}
    if not jobs:
        status.update(status="skipped", error="no charts to export")
        return status
    tmp = Path(tempfile.mkdtemp(dir=workdir, prefix=".png-"))
    try:
        import kaleido

        specs = []
        for i, (fig, target) in enumerate(jobs):
            height = int(fig.layout.height or 500)
            specs.append({
                "fig": fig.to_dict(),
                "path": tmp / f"{i:03d}.png",
                "opts": {"format": "png", "width": PNG_WIDTH, "height": height, "scale": PNG_SCALE},
            })
        kopts = {"mathjax": False, "timeout": PNG_TIMEOUT_S, "browser_cls": _chromium_class()}
        if status["browser"]:
            kopts["path"] = status["browser"]
        kaleido.write_fig_from_object_sync(specs, kopts=kopts)
        for spec, (_, target) in zip(specs, jobs):
            if not spec["path"].exists() or spec["path"].stat().st_size == 0:
                raise RuntimeError(f"kaleido wrote no image for {target.name}")
        for spec, (_, target) in zip(specs, jobs):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(spec["path"], target)
            status["files"] += 1
    except Exception as exc:  # the report stands without its PNGs
        hint = ""
        if "not found" in str(exc).lower() or "chrome" in type(exc).__name__.lower():
            hint = " (install Chromium with scripts/install_chromium.sh, or set BROWSER_PATH)"
        status.update(status="failed", error=f"{type(exc).__name__}: {exc}{hint}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        status["seconds"] = round(time.monotonic() - started, 2)
    return status
