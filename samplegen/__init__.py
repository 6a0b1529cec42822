"""Deterministic generator of the bundled sample exports (``data/raw/``), kept apart from the production wiring.

Writes what the campaign team, the ad platforms, the campaign site's analytics
and the participating organisations would send, in their real layouts and
with their real quirks (title lines, BOMs, UTF-16, cp1252, ``;`` delimiters,
decimal commas, footers, duplicated deliveries), so the pipeline is exercised
by the same mess it meets in production.

The sample is built to reproduce the Microbiome Signature Project's closing
report under the KPI rules of ``/work/shared/data-contract.md``: 5
organisations established, 27 involved, 102 international hires, more than
23 million impressions and 33,632 unique visitors. Traps (domestic hires,
non-campaign sources, hires outside the window, rows outside every period,
...) sit next to the counted rows and must not change those figures.

Everything comes from seeded generators (``random.Random`` / numpy
``default_rng``, one per source, see ``world``), never from global state or
the clock, so the same arguments give byte-identical files. Visitor sessions
are generated and written chunk by chunk, so memory stays flat however many
sessions are asked for.

One module per concern: ``world`` (campaigns, periods, organisations,
candidates, calendar, seeds), ``files`` (byte-reproducible writing), one per
source (``reference``, ``reach``, ``visitors``; ``applications`` plans the
hiring, ``hiring`` writes its ATS and template layouts) and ``write`` (a whole
sample folder, or one more night).
"""

from samplegen.visitors import BASE_SESSIONS, BASE_USERS
from samplegen.world import DEFAULT_SEED, MSP_PERIODS
from samplegen.write import generate_sample, write_extra_day

__all__ = ["BASE_SESSIONS", "BASE_USERS", "DEFAULT_SEED", "MSP_PERIODS", "generate_sample", "write_extra_day"]
