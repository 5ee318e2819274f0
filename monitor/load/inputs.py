"""A load's inputs on their way into storage: prepared beside the validation (staging files, columnar copies),
written in the run's transaction, and the run's files with their counts and rejected rows."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.base.text import is_in
from monitor.config import Settings
from monitor.files.names import shown_name
from monitor.files.read import RawTable, read_boundaries
from monitor.rules import boundaries as boundary_rules
from monitor.rules.validate import Validated
from monitor.storage import store, table_copies

# Snapshots held when they shrink too much (SPEC §3), and the stored size from which the check applies.
SHRINK_CHECKED = ("population", "enrollment", "identities")
SHRINK_MINIMUM = 1000


@dataclass
class Prepared:
    """A validated input made ready for the database before its transaction: rows staged for SQLite (None: written
    row by row) and columnar copies under temporary names."""

    rows: pd.DataFrame
    staged: store.Staged | None = None
    copies: list[table_copies.Pending] = field(default_factory=list)

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()
        table_copies.discard(self.copies)


def prepare(engine: Engine, table: sa.Table, rows: pd.DataFrame, copied: bool) -> Prepared:
    staged = store.stage(engine, table, rows)
    try:
        return Prepared(rows, staged, table_copies.write(engine, table, rows) if copied else [])
    except BaseException:
        if staged is not None:
            staged.discard()
        raise


def combined_settlements(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Stored then new settlements; either one alone as it is (concatenating copies the amounts: 0.5 GB for a
    district's year)."""
    if stored.empty or new.empty:
        return (new if stored.empty else stored).reset_index(drop=True)
    return pd.concat([stored, new], ignore_index=True)


def mentioned_settlements(raw: list[RawTable], stored: pd.DataFrame) -> pd.DataFrame:
    """The stored settlements whose IDs the load's settlement files mention (as their own ID or the one reversed).
    A function of its own, so the 17 million IDs of a district's year are let go before validation starts."""
    if stored.empty:
        return stored
    ids = pd.concat([t.column(c) for t in raw for c in ("settlement_id", "reverses")]).str.strip()
    return stored[is_in(stored["settlement_id"], ids)]


def store_inputs(
    conn: sa.Connection,
    run_id: int,
    prepared: dict[str, Future],
    uncopied: set[str],
    stored: dict[str, pd.DataFrame],
    pending: list[table_copies.Pending],
) -> None:
    """The snapshots the load replaced and its settlements, with their columnar copies (added to pending)."""
    for key, table in [*store.SNAPSHOT_TABLES.items(), ("settlements", store.settlements)]:
        ready: Prepared | None = prepared[key].result() if key in prepared else None
        if ready is not None and key != "settlements":
            conn.execute(table.delete())
        if ready is not None and ready.staged is not None:
            store.write_staged(conn, table, ready.staged, **({"run_id": run_id} if key == "settlements" else {}))
        elif ready is not None:
            store.write_frame(conn, table, ready.rows.assign(run_id=run_id) if key == "settlements" else ready.rows)
        if ready is not None:
            table_copies.record(conn, ready.copies)
            pending.extend(ready.copies)
            ready.copies = []  # the transaction owns them now
        elif key in uncopied and key != "settlements":
            pending.extend(table_copies.prepare(conn, table, stored[key]))
    written = prepared["settlement copies"].result()
    table_copies.record(conn, written.copies)
    pending.extend(written.copies)
    written.copies = []


def settlement_copies(
    engine: Engine, settlements: Future, run_id: int, stored: dict[str, pd.DataFrame], uncopied: set[str]
) -> Prepared:
    """The columnar copy of this run's settlements, written once the run has its id (the file is named by it);
    settlements read from the database (no copies yet, or one out of step) get theirs again."""
    fresh = settlements.result().rows.assign(run_id=run_id)
    rows = pd.concat([stored["settlements"], fresh], ignore_index=True) if "settlements" in uncopied else fresh
    return Prepared(fresh.iloc[0:0], None, table_copies.write(engine, store.settlements, rows))


def validated_boundaries(paths: list[Path], divisions: pd.DataFrame, root: str, settings: Settings) -> Validated:
    """Every boundary file of the load, checked against the divisions snapshot; later files add levels."""
    valid, rejects, counts = [], [], {}
    tolerance = settings.boundary_simplify_metres / 111_000  # metres → degrees of latitude
    for path in paths:
        frame = read_boundaries(path, settings.boundary_code_property)
        good, bad = boundary_rules.prepare(frame, path.name, divisions, root, tolerance)
        valid.append(good.assign(_file=path.name))
        rejects.append(bad)
        counts[path.name] = (len(frame), len(good), len(bad))
    merged = pd.concat(valid, ignore_index=True)
    repeated = merged["code"].duplicated()  # the same code in two files: the first file in name order wins
    rejects.append(
        pd.DataFrame(
            {
                "source": "boundaries",
                "file": merged.loc[repeated, "_file"],
                "row": merged.loc[repeated, "_row"],
                "reason": "DUPLICATE_ID",
                "column": "code",
                "original": merged.loc[repeated, "_original"],
            }
        )
    )
    kept = merged[~repeated][boundary_rules.BOUNDARY_COLUMNS].reset_index(drop=True)
    return Validated("boundaries", kept, pd.concat(rejects, ignore_index=True), counts)


def store_run_files(
    conn: sa.Connection,
    run_id: int,
    files: dict[str, list[Path]],
    results: dict[str, Validated],
    digests: dict[Path, Future],
) -> None:
    rows = []
    for key, paths in files.items():
        validated = results.get(key)
        for path in paths:
            digest = digests[path].result()
            name = shown_name(path)  # an upload's tables are labelled with the user's own file name
            labels = [lb for lb in (validated.counts if validated else {}) if lb.split(":")[0] == name] or [name]
            for label in labels:
                read, loaded, rejected = validated.counts.get(label, (0, 0, 0)) if validated else (0, 0, 0)
                rows.append(
                    {
                        "run_id": run_id,
                        "source": key,
                        "file": label,
                        "checksum": digest,
                        "rows_read": read,
                        "rows_loaded": loaded,
                        "rows_rejected": rejected,
                    }
                )
    store.write_frame(conn, store.run_files, pd.DataFrame(rows))
    if not results:
        return
    rejects = pd.concat([r.rejects for r in results.values()], ignore_index=True)
    rejects["run_id"] = run_id
    rejects["seq"] = range(len(rejects))
    store.write_frame(conn, store.rejects, rejects)


def shrinks_too_much(stored: int, new: int, max_shrink: Fraction) -> bool:
    """SPEC §3: a snapshot of `new` distinct ID numbers replacing one of `stored` is held when the stored one has at
    least 1,000 and the new one has more than max_shrink fewer: (stored − new) / stored > max_shrink, exactly."""
    return stored >= SHRINK_MINIMUM and Fraction(stored - new, stored) > max_shrink


def shrink_message(held: dict[str, tuple[int, int]], max_shrink: Fraction) -> str:
    """The one-line reason of a run that held snapshots (source → stored and new counts of distinct ID numbers)."""
    share = f"{float(max_shrink * 100):g}%"
    parts = [
        f"{key}: 新快照只有 {new} 个身份证号，已存 {stored} 个，减少超过 {share}" for key, (stored, new) in held.items()
    ]
    accept = " ".join(f"--accept-shrink {key}" for key in held)
    return f"{'；'.join(parts)}，未应用；确认无误请用 {accept} 重新运行"
