"""The staging rules' version: when it changes, every export is staged again (assets/staging/restage.py).

A module of its own, importing no parser: the check for a night with nothing new reads it
(assets/staging/noop.py) and would otherwise import every parser (pyarrow included) to get one string.
"""

from __future__ import annotations

from assets.ingest.contract import contract_fingerprint
from assets.ingest.reference import attribution_fingerprint

# Bumped when parsing or attribution rules change how existing exports are staged (the ledger
# key, line accounting): the next run re-stages everything once, like a reference change.
# 2: visitor export keys include the file name; empty lines are not data lines.
# 3: declared contracts (strict types, scrubbed free text), quarantine rules, row problems contained.
# 4: attribution in SQL (sql/attribution.sql), channel rules as reference data, applications' period.
# The contract's and the attribution SQL's fingerprints are part of it: editing either re-stages once.
STAGING_RULES_VERSION = "4:" + contract_fingerprint() + ":" + attribution_fingerprint()
