"""The ledger (issue #6): licences drawn down by shipments, TPP budgets of the 2025 AI Diffusion
rule (the codified-but-not-enforced what-if), and the audit record, a hash chain of every answer
given with `--record`. Everything lives in the aiexport database (`aiexport.db`).

* `licences`: add, show, list, draw (reserve or consume), consume, release; idempotent on the
  transaction id; concurrent writers never over-draw.
* `budgets`: LPP consignee-year budgets and Tier 2 country allocations in TPP.
* `audit`: `record`, `record_many`, `verify`, `export`, batches that resume after a crash.
"""
