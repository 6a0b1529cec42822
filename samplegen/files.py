"""Byte-reproducible file writing shared by every source: no clock, no locale, no file name in a header."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

# Fixed archive metadata so the .xlsx files are byte-identical on rerun.
_XLSX_TIME = (2022, 10, 1, 0, 0, 0)
_XLSX_STAMP = "2022-10-01T00:00:00Z"


def write_csv(path: Path, rows: list[list], encoding: str, delimiter: str = ",", lineterminator: str = "\n") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def csv_bytes(frame: pl.DataFrame, header: bool) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=header)
    return buffer.getvalue()


@contextmanager
def gzip_writer(path: Path) -> Iterator[gzip.GzipFile]:
    """A gzip stream whose header holds no clock (mtime=0) and no file name, for byte-identical reruns."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
        yield gz


def reproducible_zip(data: bytes) -> bytes:
    """Rewrites an .xlsx with fixed entry times and document timestamps (openpyxl stamps the clock)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = rb"\g<1>" + _XLSX_STAMP.encode() + rb"\g<3>"
                payload = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(<)", stamp, payload)
            entry = zipfile.ZipInfo(info.filename, date_time=_XLSX_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, payload)
    return out.getvalue()
