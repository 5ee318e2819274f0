"""Which rows of a load a check across rows may reject (rules.repeats.held, SPEC §5): a key met before, in a stored
file or an earlier row of the load (file, then row order), and every reversal; the first row of a key goes on. The
same rows the streamed load holds (storage.seen.SeenKeys marks them chunk by chunk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.rules import repeats
from monitor.storage import sets
from monitor.storage.seen import SeenKeys


def _run(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["settlement_id", "reverses", "_t", "_row"]).astype(
        {"_t": "int64", "_row": "int64"}
    )


def _held(run: pd.DataFrame, stored: list[str] | None, key: str = "settlements") -> list[tuple[int, int]]:
    earlier = sets.table(pd.DataFrame({"settlement_id": stored})) if stored is not None else None
    found = sets.evaluate(repeats.held(sets.table(run), earlier, key))
    return sorted(zip(found["_t"].astype(int), found["_row"].astype(int), strict=True))


@pytest.mark.parametrize(
    ("rows", "stored", "expected"),
    [
        ([("A", "", 0, 2), ("B", "", 0, 3)], None, []),
        ([("A", "", 0, 2), ("A", "", 0, 3)], None, [(0, 3)]),  # the second of a key
        ([("A", "", 0, 5), ("A", "", 0, 3)], None, [(0, 5)]),  # by row, not by the order rows come in
        ([("A", "", 1, 2), ("A", "", 0, 9)], None, [(1, 2)]),  # an earlier file first
        ([("A", "", 0, 2)], ["A"], [(0, 2)]),  # met in a stored file
        ([("A", "", 0, 2), ("A", "", 0, 3)], ["A"], [(0, 2), (0, 3)]),
        ([("R", "A", 0, 2), ("A", "", 0, 3)], [], [(0, 2)]),  # a reversal, whatever its key
        ([("A", "", 0, 2), ("A", "", 0, 3), ("A", "", 1, 2)], ["B"], [(0, 3), (1, 2)]),
    ],
)
def test_the_rows_a_check_across_rows_may_reject(rows, stored, expected):
    assert _held(_run(rows), stored) == expected


def test_a_snapshot_holds_the_repeats_of_its_whole_key_and_no_reversals():
    run = pd.DataFrame(
        {
            "id_number": ["1", "1", "2", "1"],
            "death_date": ["2025-01-01", "2025-01-01", "2025-01-01", "2025-02-01"],
            "_t": [0, 0, 0, 0],
            "_row": [2, 3, 4, 5],
        }
    )
    found = sets.evaluate(repeats.held(sets.table(run), None, "deaths"))
    assert sorted(found["_row"].tolist()) == [3, 5]  # deaths' key is the ID number alone


def test_the_same_rows_the_streamed_load_holds(tmp_path):
    generator = np.random.default_rng(7)
    n = 3000
    run = _run(
        list(
            zip(
                [f"S{k}" for k in generator.integers(0, 2000, n)],
                np.where(generator.random(n) < 0.05, "S1", ""),
                np.repeat([0, 1, 2], n // 3),
                np.tile(np.arange(2, n // 3 + 2), 3),
                strict=True,
            )
        )
    )
    stored = [f"S{k}" for k in range(1900, 2100)]
    seen = SeenKeys(("settlement_id",))
    seen.mark(pd.DataFrame({"settlement_id": stored}))
    marked = np.concatenate([seen.mark(run.iloc[i : i + 250]) for i in range(0, n, 250)])
    seen.close()
    marked |= (run["reverses"] != "").to_numpy()
    expected = sorted(zip(run["_t"][marked].astype(int), run["_row"][marked].astype(int), strict=True))
    assert _held(run, stored) == expected
