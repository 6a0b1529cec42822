"""Reference files: strict reading, blank lines tolerated, bad cells named by line and column."""

from __future__ import annotations

import shutil

import pytest

from assets.ingest.common import RejectedFile
from assets.ingest.reference import read_reference
from conftest import FIXTURES


@pytest.fixture
def folder(tmp_path):
    shutil.copytree(FIXTURES / "reference", tmp_path / "ref")
    return tmp_path / "ref"


def test_blank_trailing_lines_are_not_rows(folder):
    (folder / "fx_rates.csv").write_text((folder / "fx_rates.csv").read_text() + "\n,\n")
    assert read_reference(folder)["fx_rates"].height == 2


def test_bad_date_is_rejected_with_line_and_column(folder):
    path = folder / "campaigns.csv"
    path.write_text(path.read_text().replace("2022-09-30", "30/09/2022"))
    with pytest.raises(RejectedFile) as err:
        read_reference(folder)
    assert (err.value.line, err.value.column) == (2, "end_date")


def test_missing_reference_file_is_named(folder):
    (folder / "organisations.csv").unlink()
    with pytest.raises(RejectedFile, match="organisations.csv"):
        read_reference(folder)


def test_cp1252_register_is_read_and_ragged_row_is_named(folder):
    path = folder / "organisations.csv"
    path.write_bytes(path.read_text().encode("cp1252"))
    assert "Øresund Diagnostics ApS" in read_reference(folder)["organisations"]["name"].to_list()
    path.write_text(path.read_bytes().decode("cp1252") + "ORG9,Extra,DK,x,y,2020-01-01,2020-01-01,surplus\n")
    with pytest.raises(RejectedFile) as err:
        read_reference(folder)
    assert err.value.line == 5 and "organisations.csv" in str(err.value)
