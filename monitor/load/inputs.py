"""A load's inputs on their way into storage: prepared beside the validation (lake files, staging files), recorded
or written in the run's transaction, and the run's files with their counts and rejected rows."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.files.boundary_files import read_boundaries
from monitor.files.names import shown_name
from monitor.rules import boundaries as boundary_rules
from monitor.rules.validate import Validated
from monitor.storage import lake, store

# Snapshots held when they shrink too much (SPEC §3), and the stored size from which the check applies.
SHRINK_CHECKED = ("population", "enrollment", "identities")
SHRINK_MINIMUM = 1000


@dataclass
class Prepared:
    """A validated input made ready before the run's transaction: a lake source's file (not yet recorded), or rows
    staged for a database table (None: written row by row)."""

    rows: pd.DataFrame
    staged: store.Staged | None = None
    written: list[lake.LakeFile] = field(default_factory=list)

    def discard(self, engine: Engine) -> None:
        """Remove what no transaction took (the caller empties `written` once its transaction has it)."""
        if self.staged is not None:
            self.staged.discard()
        lake.discard(engine, self.written)


def prepare(engine: Engine, source: str, rows: pd.DataFrame, run_id: int) -> Prepared:
    """A database table's rows staged (the divisions, the boundaries); a lake source's files are written as it is
    read (load.streamed)."""
    return Prepared(rows, store.stage(engine, store.SNAPSHOT_TABLES[source], rows))


def store_inputs(conn: sa.Connection, prepared: dict[str, Future], recorded: list[lake.LakeFile]) -> None:
    """The snapshots the load replaced and its settlements: database tables rewritten, lake files recorded (added to
    `recorded`, which the caller removes if the transaction does not commit)."""
    for key in [*store.SNAPSHOT_TABLES, "settlements"]:
        ready: Prepared | None = prepared[key].result() if key in prepared else None
        if ready is None:
            continue
        if ready.written:
            lake.record(conn, ready.written)
            recorded.extend(ready.written)
            ready.written = []  # the transaction owns them now
        elif key in store.SNAPSHOT_TABLES and key not in store.LAKE_TABLES:
            table = store.SNAPSHOT_TABLES[key]
            conn.execute(table.delete())
            if ready.staged is not None:
                store.write_staged(conn, table, ready.staged)
            else:
                store.write_frame(conn, table, ready.rows)


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
