"""A source of a load validated as it is read, chunk by chunk, so a load holds one chunk's raw cells at a time.

Each chunk (`files.stream`) goes through the checks each row makes on its own (`rules.validate.check_rows`); its
rejected rows keep their original cells. Its open rows go on at once: a snapshot's into the frame the load computes
from, the settlements into the run's lake file (`lake.Writer`), unless a check across rows may reject them later
(SPEC §5: a repeated key, `storage.seen`; a reversal, whose target may come later). Those few are held with their
original cells; once every chunk is in, `rules.validate.cross_row` decides them together with the rows that share
their keys (passed on earlier, or stored by earlier loads), in the order of the files, exactly as a whole-source
validation would. The held rows that pass follow the others: a snapshot's in source order, the settlements in the
run's second file (`run-<id>.tail.parquet`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from monitor.base.text import is_in, join_columns
from monitor.config import Settings
from monitor.files.read import RawTable
from monitor.files.sources import ALL_SOURCES
from monitor.files.stream import CHUNK_ROWS, Reread, read_chunks
from monitor.rules.validate import (
    Checked,
    Context,
    Validated,
    check_rows,
    cross_rejects,
    cross_row,
    empty_rows,
    finished,
)
from monitor.storage import lake
from monitor.storage.seen import SeenKeys

# Chunks checked at once (on threads) while the next is read: two on this machine's two cores. More would hold more
# chunks in memory (about 300 MB each at 500,000 settlements) for little: the reading and writing need a core too.
CHECKERS = 2


@dataclass
class Streamed:
    """A validated source: its Validated (a snapshot's rows kept; no rows for the settlements, which are in the
    lake) and the settlements' files of the run, written and not yet recorded."""

    validated: Validated
    written: list[lake.LakeFile] = field(default_factory=list)


def stream_source(
    engine: Engine,
    key: str,
    paths: list[Path],
    ctx: Context,
    run_id: int,
    settings: Settings,
    chunk_rows: int = CHUNK_ROWS,
) -> Streamed:
    """Validate a source's files as they are read (see the module's docstring). A file whose reader must change
    part-way (`files.stream.Reread`) starts the source again, with nothing of the first attempt kept."""
    modes: dict[Path, str] = {}
    while True:
        try:
            return _stream(engine, key, paths, ctx, run_id, settings, modes, chunk_rows)
        except Reread as again:
            modes[again.path] = again.mode


def _key_text(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    return join_columns([rows[c] for c in columns], "\x1f")


def _stream(
    engine: Engine,
    key: str,
    paths: list[Path],
    ctx: Context,
    run_id: int,
    settings: Settings,
    modes: dict[Path, str],
    chunk_rows: int,
) -> Streamed:
    source = ALL_SOURCES[key]
    settlements = key == "settlements"
    stored = lake.paths(engine, "settlements") if settlements else []  # a snapshot's keys are checked in the load only
    seen = SeenKeys(source.duplicate_key, stored)
    writer = lake.Writer(engine, key, run_id) if key in lake.LAKE_TABLES else None
    passed: list[pd.DataFrame] = []  # the divisions' rows no later check can reject (a database table, not a file)
    held: list[pd.DataFrame] = []  # rows a check across rows may still reject, with their original cells
    rejects: list[pd.DataFrame] = []
    labels: dict[str, int] = {}
    read: dict[str, int] = {}
    written: list[lake.LakeFile] = []
    part_writer = ThreadPoolExecutor(max_workers=1)  # a chunk's part is written while the next is read and checked
    writing: Future[None] | None = None
    try:
        for table, checked in _checked(read_chunks(paths, key, settings, modes, chunk_rows), key, ctx, labels):
            read[table.label] = read.get(table.label, 0) + checked.read
            rejects.append(checked.rejects)
            rows = checked.rows
            maybe = seen.mark(rows) if source.duplicate_key else np.zeros(len(rows), dtype=bool)
            if settlements:
                maybe |= (rows["reverses"] != "").to_numpy()
            if maybe.any():
                doubtful = rows[maybe].copy()
                doubtful["_original"] = table.originals(table.cells.index[doubtful["_pos"].to_numpy()]).to_numpy()
                held.append(doubtful)
                rows = rows[~maybe]
            if writer is not None:
                if writing is not None:
                    writing.result()  # one part at a time, in order
                writing = part_writer.submit(writer.write, rows)
            else:
                passed.append(rows)
        if writer is not None:
            if writing is not None:
                writing.result()
            main = writer.close()
            written += [main] if main is not None else []
        doubtful = pd.concat(held, ignore_index=True) if held else empty_rows(key).assign(_original="")
        survivors, late = decide(engine, key, doubtful, passed, written, stored, ctx, list(labels))
        rejects.append(late)
        if writer is not None:
            if not survivors.empty:
                tail = lake.Writer(engine, key, run_id, ".tail")
                tail.write(survivors)
                written += [tail.close()]  # type: ignore[list-item]  # rows written: a file
            kept = empty_rows(key).iloc[0:0]
        else:
            parts = [p for p in [*passed, survivors] if not p.empty]
            kept = pd.concat(parts, ignore_index=True) if parts else empty_rows(key)
            kept = kept.sort_values(["_t", "_row"], kind="stable")  # the held rows back in their places
    except BaseException:
        if writing is not None:
            wait([writing])  # the file is not let go while a part is being written to it
        if writer is not None:
            writer.abandon()
        lake.discard(engine, written)
        raise
    finally:
        part_writer.shutdown()
        seen.close()
    return Streamed(finished(key, kept, rejects, list(labels), read), written)


def _checked(
    chunks: Iterator[RawTable], key: str, ctx: Context, labels: dict[str, int]
) -> Iterator[tuple[RawTable, Checked]]:
    """Each chunk with its rows checked (`check_rows`), in order. CHECKERS chunks are checked at once on threads while
    the next is read: the checks are mostly Arrow kernels, which run without Python's lock."""
    with ThreadPoolExecutor(max_workers=CHECKERS) as pool:
        pending: deque[tuple[RawTable, Future[Checked]]] = deque()
        try:
            for table in chunks:
                t = labels.setdefault(table.label, len(labels))
                pending.append((table, pool.submit(check_rows, key, table, t, ctx)))
                if len(pending) >= CHECKERS:
                    done, checked = pending.popleft()
                    yield done, checked.result()
            while pending:
                done, checked = pending.popleft()
                yield done, checked.result()
        finally:
            for _table, future in pending:  # a failed read or check: the others need not finish
                future.cancel()


def decide(
    engine: Engine,
    key: str,
    doubtful: pd.DataFrame,
    passed: list[pd.DataFrame],
    written: list[lake.LakeFile],
    stored: list[Path],
    ctx: Context,
    labels: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held rows that pass the checks across rows, and the reject rows of those that do not. They are checked
    together with every row that shares a key with one of them or is the target of a held reversal: those passed on
    earlier in the load (never rejected themselves: each is the first of its key) and those stored before."""
    source = ALL_SOURCES[key]
    if doubtful.empty:
        return doubtful.drop(columns="_original"), pd.DataFrame()
    if key == "settlements":
        wanted = pd.concat([doubtful["settlement_id"], doubtful.loc[doubtful["reverses"] != "", "reverses"]]).unique()
        ids = [i for i in wanted.tolist() if i]
        earlier = lake.rows_in([lake.path_of(engine, f) for f in written], key, "settlement_id", ids)
        ctx = replace(ctx, stored_settlements=lake.rows_in(stored, key, "settlement_id", ids).drop(columns=["run_id"]))
        earlier = earlier.drop(columns=["run_id"])
    else:  # every snapshot's key begins with the ID number: the rows passed on are found by it, then by key
        if key in lake.LAKE_TABLES:
            ids = doubtful["id_number"].unique().tolist()
            everything = lake.rows_in([lake.path_of(engine, f) for f in written], key, "id_number", ids)
        else:
            everything = pd.concat(passed, ignore_index=True) if passed else empty_rows(key)
        wanted_keys = _key_text(doubtful, source.duplicate_key)
        earlier = everything[is_in(_key_text(everything, source.duplicate_key), wanted_keys)]
    together = pd.concat([earlier.assign(_held=False), doubtful.assign(_held=True)], ignore_index=True)
    flags = cross_row(key, together, ctx)
    assert together.loc[flags.index, "_held"].all(), "a row passed on was rejected by a check across rows"
    late = cross_rejects(key, together, flags, together["_original"], labels)
    survivors = together[together["_held"] & ~together.index.isin(flags.index)].drop(columns=["_held", "_original"])
    return survivors, late
