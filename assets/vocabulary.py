"""The project's words, defined once: every room (ingest, staging, quality, marts, publish, report) imports them.

Channels and stages here are the closed vocabularies the published tables use;
which source text maps to which channel is reference data
(``data/raw/reference/``), not code.
"""

from __future__ import annotations

ALL = "all"  # the roll-up of every period, or of every channel, in a scope column
DOMESTIC = ("DK", "SE")  # countries of the region: a hire from here is not international

AD_CHANNELS = ("linkedin", "meta", "google_ads")
CHANNELS = AD_CHANNELS + ("organic", "direct", "referral")

# The steps of an application in an ATS or the template, in order.
APPLICATION_STAGES = ("applied", "screening", "interview", "offer", "hired", "rejected")

# The funnel, from the first contact to the hire.
STAGES = ("impressions", "clicks", "unique_visitors", "applications", "hires")
KPIS = (
    "impressions",
    "clicks",
    "unique_visitors",
    "applications",
    "international_hires",
    "organisations_involved",
    "organisations_established",
)
# The KPI each funnel stage is: the funnel's last stage is the international-hires KPI.
STAGE_KPI = {"impressions": "impressions", "clicks": "clicks", "unique_visitors": "unique_visitors",
             "applications": "applications", "hires": "international_hires"}
