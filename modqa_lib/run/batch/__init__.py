r"""Run a report notebook once per vendor, site or market with papermill, export each to HTML.

Run families
------------
=============  ==============================  =====================  =====================
``by``         notebook (from params YAML)     unit parameter(s)      units from decisions
=============  ==============================  =====================  =====================
vendor         10_vendor_scorecard.ipynb       ``vendor``             vendors but "Platform"
site           10_vendor_scorecard.ipynb       ``site``, ``vendor``   sites but "model"
market         11_market_report.ipynb          ``market``             markets
consolidated   00_consolidated_report.ipynb    (none)                 one unit "consolidated"
=============  ==============================  =====================  =====================

The notebook, the parameters shared by all units and per-unit overrides live in
``params/vendors.yaml`` (vendor and site, the latter under ``by_site:``),
``params/markets.yaml`` and ``params/consolidated.yaml``. Every parameter key
must be a parameter of the notebook (checked with ``papermill.inspect_notebook``
before anything runs). ``units:`` may be a list (run exactly these units) or a
mapping unit -> parameter overrides.

Outputs
-------
``outputs/<run-id>/<unit-slug>/<notebook-stem>.ipynb`` (executed, kept even when
it failed: the traceback is in it), ``.../<notebook-stem>.html`` (only for units
that succeeded and, for vendor-facing families, passed the privacy check),
``outputs/<run-id>/manifest.json`` (rewritten atomically after every unit) and
``outputs/<run-id>/index.html`` (links to every report with its headline figures).
Files get their final names only when complete (temporary ``.partial`` files,
then ``os.replace``), so a batch killed mid-run leaves a valid manifest with the
finished units ``ok`` and the others ``pending``, and ``--resume`` reruns
exactly those.

Run ids default to ``<UTC timestamp>-<family>`` (``20261125T120000Z-vendor``), so
``make run``'s two batches (``--by vendor`` then ``--by market``) get separate
folders. Families may also share one ``--run-id``: the manifest keys units by
``<family>/<unit>`` and the index lists each family; running a family again
under a run id that already has it needs ``--resume`` (two batches must not
write the same run id at the same time).

Headline figures
----------------
A report notebook's last cell calls :func:`record_headline` with a small dict
(``{"accuracy": 0.953, "n_audits": 1210}``). The helper displays it under the
private mimetype ``application/vnd.modqa.headline+json``; :func:`run_unit` reads
it back from the executed notebook, stores it in
``nb.metadata["modqa"]["headline"]`` and in the manifest, and the export drops
the output. This was chosen over a sidecar file named by an environment
variable because it needs no shared file system or per-kernel environment (a
Dask worker only has to return the executed notebook) and cannot race between
parallel kernels.

Parallelism
-----------
:func:`run_unit` is the one function mapped over the units; it takes and
returns plain, picklable dataclasses, so a Dask cluster can map the same
function. Locally, a ``ThreadPoolExecutor`` runs ``workers`` units at once (each
papermill run starts its own kernel process). The kernel's working directory
(the notebook's folder) is given to nbclient directly rather than through
papermill's ``cwd=``, which ``os.chdir``\ s the whole process and is not
thread-safe.
"""

from __future__ import annotations

from modqa_lib.data.io import processed_fingerprint
from modqa_lib.report.notebook_headline import HEADLINE_MIME, read_headline, record_headline
from modqa_lib.run.batch._common import FAMILIES, LOCK_NAME, unit_slug
from modqa_lib.run.batch.manifest import write_index
from modqa_lib.run.batch.plan import load_family_config, plan_batch
from modqa_lib.run.batch.runner import run_batch
from modqa_lib.run.batch.units import BatchResult, UnitResult, UnitSpec, run_unit

__all__ = [
    "FAMILIES",
    "HEADLINE_MIME",
    "LOCK_NAME",
    "BatchResult",
    "UnitResult",
    "UnitSpec",
    "load_family_config",
    "plan_batch",
    "processed_fingerprint",
    "read_headline",
    "record_headline",
    "run_batch",
    "run_unit",
    "unit_slug",
    "write_index",
]
