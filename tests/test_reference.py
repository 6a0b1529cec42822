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


def test_channel_rules_are_read_with_the_reference_files(folder):
    rules = read_reference(folder)["channel_rules"]
    assert rules.columns == ["rule_order", "channel", "source_pattern", "medium_pattern", "note"]
    assert rules["rule_order"].is_sorted() and rules["channel"][-1] == "referral"


def test_a_channel_rule_edit_or_an_attribution_change_restages(folder):
    """Staged rows carry channels: editing channel_rules.csv (reference data) or sql/attribution.sql
    (part of STAGING_RULES_VERSION) changes the digest whose change re-stages every export."""
    from assets.ingest.reference import attribution_fingerprint
    from assets.staging import noop
    from assets.staging.rules_version import STAGING_RULES_VERSION

    assert STAGING_RULES_VERSION.endswith(attribution_fingerprint())
    before = noop.reference_digest(folder, "key", STAGING_RULES_VERSION)
    path = folder / "channel_rules.csv"
    path.write_text(path.read_text().replace("linkedin|lnkd", "linkedin|lnkd|xing"))
    assert noop.reference_digest(folder, "key", STAGING_RULES_VERSION) != before
