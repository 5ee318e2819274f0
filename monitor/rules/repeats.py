"""SPEC §5's checks across rows, their set-based part: which rows of a load a check across rows may reject, so that
only those are decided row by row (`rules.validate.cross_row`, with the rows that share their keys).

A row is held when its source's duplicate key was met before it: in a stored file (the settlements of earlier loads)
or in an earlier row of the load, in file then row order; and a settlement when it is a reversal (its target may be
missing). The first row of each key goes on: a check across rows never rejects it. Written once for every engine: a
load on Spark's executors (`monitor.load.spread`) runs it on Spark, over the staged and the stored files.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from monitor.files.sources import ALL_SOURCES


def held(run: ir.Table, stored: ir.Table | None, source_key: str) -> ir.Table:
    """(_t, _row) of the run's rows to hold: `run` holds the load's open rows with their file's number _t and
    physical row _row; `stored` the stored rows whose keys count as met (None: none). The run's rows are ranked
    among themselves and only looked up in the stored ones (a semi-join), so a month's rows are not sorted together
    with the year's stored settlements."""
    source = ALL_SOURCES[source_key]
    key = list(source.duplicate_key)
    reversal = (run["reverses"] != "") if source_key == "settlements" else ibis.literal(False)
    rows = run.select(*key, _t=run["_t"], _row=run["_row"], _reversal=reversal)
    if not key:
        return rows.filter(rows["_reversal"]).select("_t", "_row")
    nth = ibis.row_number().over(group_by=key, order_by=[rows["_t"], rows["_row"]])
    ranked = rows.mutate(_nth=nth)
    again = ranked.filter((ranked["_nth"] > 0) | ranked["_reversal"]).select("_t", "_row")
    if stored is None:
        return again
    met = rows.semi_join(stored.select(*key).cast(rows.select(*key).schema()), key).select("_t", "_row")
    return again.union(met, distinct=True)
