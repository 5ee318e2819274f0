"""The keys a streamed load has met so far, to tell which rows of a new chunk may repeat an earlier one.

A load validates its files chunk by chunk (`monitor.load.streamed`) and must keep the original cells of every row
that a check across rows may reject later (SPEC §5: DUPLICATE_ROW, DUPLICATE_ID), while the rest go to the lake at
once. A row may be one of those when its key (the source's duplicate key) was met before: earlier in the load or in
the stored settlements. Only a 64-bit hash of each key is kept, in an in-process DuckDB table: 8 bytes a key (68 MB
for a district's 8.5 M settlements) where the keys themselves took some 300 MB. Two different keys with the same hash
only make a row a candidate; the check itself compares the keys (`rules.validate.cross_row`). About 60 ms a chunk of
500,000 rows on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa


class SeenKeys:
    """The hashes of the keys met so far; `stored` files (a lake source's Parquet files) are met from the start."""

    def __init__(self, columns: tuple[str, ...], stored: list[Path] | None = None):
        self.columns = columns
        self._con = duckdb.connect(config={"threads": os.cpu_count() or 1, "temp_directory": ""})
        self._con.execute("CREATE TABLE seen (h UBIGINT)")
        quoted = ", ".join('"' + c + '"' for c in columns)  # the sources' own column names
        self._hash = f"hash({quoted})"
        if stored:
            files = ", ".join(f"'{p.as_posix()}'" for p in stored)  # the lake's own paths, not user input
            self._con.execute(f"INSERT INTO seen SELECT {self._hash} FROM read_parquet([{files}])")

    def mark(self, keys: pd.DataFrame) -> np.ndarray:
        """For each row of a chunk (its key columns, in row order): True when its key's hash was met before, in an
        earlier chunk, a stored file or an earlier row of this chunk; then the chunk's keys count as met."""
        chunk = pa.Table.from_pandas(keys[list(self.columns)].reset_index(drop=True), preserve_index=False)
        chunk = chunk.append_column("_i", pa.array(np.arange(len(keys), dtype=np.int64)))
        self._con.register("chunk", chunk)
        try:
            found = self._con.sql(
                f"""WITH c AS (SELECT _i, {self._hash} AS h FROM chunk),
                later AS (
                    SELECT _i FROM (SELECT _i, row_number() OVER (PARTITION BY h ORDER BY _i) AS nth FROM c)
                    WHERE nth > 1
                ),
                met AS (SELECT c._i FROM c JOIN seen USING (h))
                SELECT _i FROM later UNION SELECT _i FROM met"""
            ).fetchnumpy()["_i"]
            self._con.execute(f"INSERT INTO seen SELECT {self._hash} FROM chunk")
        finally:
            self._con.unregister("chunk")
        marked = np.zeros(len(keys), dtype=bool)
        marked[np.asarray(found, dtype=np.int64)] = True
        return marked

    def close(self) -> None:
        self._con.close()
