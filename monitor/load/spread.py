"""A lake source read and validated on Spark's executors ([engine] kind = "spark", issue 21), so a province's rows
never pass through the load's process (which still reads each file's header, and its bytes once for its digest):
the same rows kept, rejects and counts as `monitor.load.streamed` gives, the run's rows in a part per range.

Each CSV file is cut into byte ranges (`monitor.files.ranges`), and the executors work on them in three passes:
1. `_scan`: each range's lines and whether it is plain. A source with a file that is not plain (quotes, short or
   long lines, an xlsx workbook) is read in the load's process instead, as before (`spread_source` gives None).
2. `_check`: each range's rows numbered from the line counts, checked on their own (`rules.validate.check_rows`),
   its rejects (with their original cells) returned, its open rows staged in a file of the lake with their file and
   row (`run-<id>.stage-<k>.parquet`).
3. The rows a check across rows may reject (SPEC §5: a key met before, in a stored file or earlier in the load; a
   reversal) are found on the engine over the staged and the stored files (`rules.repeats.held`), then `_finish`
   writes each range's other rows as its part of the run's file (`run-<id>.p<k>.parquet`, sorted by ID number as
   every part is) and returns the held ones with their original cells.
The held rows, a few in a million and the reversals, are decided in the load's process with the rows that share
their keys, exactly as the streamed load decides them (`streamed.decide`); those that pass go to the run's tail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.files import ranges
from monitor.files.bounds import line_limit
from monitor.files.headers import Header
from monitor.files.names import shown_name
from monitor.files.read import _header
from monitor.files.sources import ALL_SOURCES
from monitor.load.streamed import Streamed, decide
from monitor.rules.validate import Context, check_rows, empty_rows, finished
from monitor.storage import lake, sets
from monitor.storage.frames import typed_frame
from monitor.storage.schema_lake import LAKE_TABLES

log = logging.getLogger(__name__)  # sources and reasons, never rows


@dataclass(frozen=True)
class Part:
    """A byte range of one of the source's files: its file's number `t`, label, header and encoding (the header's
    until every range is scanned), its own number `k`, and once counted its lines and its first line's number."""

    t: int
    k: int
    path: str
    label: str
    header: Header
    encoding: str
    begin: int
    end: int
    lines: int = 0
    first_row: int = 0


@dataclass(frozen=True)
class Plan:
    """Where the executors work: the lake's folder, the run, the source and the rules' context."""

    lake: Path
    run_id: int
    key: str
    ctx: Context


def spread_source(
    engine: Engine,
    key: str,
    paths: list[Path],
    ctx: Context,
    run_id: int,
    settings: Settings,
    range_bytes: int = ranges.RANGE_BYTES,
) -> Streamed | None:
    """Validate a lake source's files on Spark's executors (see the module's docstring); None when a file is not a
    plain CSV, for the caller to read the source in its own process."""
    from monitor.storage import spark  # pyspark only where configured

    cut = _cut(paths, key, settings, range_bytes)
    if cut is None:
        log.info("%s: read in the load's process (a workbook, or a header with a quoted line end)", key)
        return None
    scans = spark.run_tasks(settings, _scan, [(p, line_limit(settings)) for p in cut])
    parts = _numbered(cut, scans)
    if parts is None:
        log.info("%s: read in the load's process (a file not plain: quotes, lines of other widths, encodings)", key)
        return None
    plan = Plan(lake.folder(engine), run_id, key, ctx)
    labels = [shown_name(p) for p in paths]  # every file's, one with no rows too (read 0)
    stored = lake.paths(engine, "settlements") if key == "settlements" else []
    staged = [_staged(plan, p).path for p in parts]
    written: list[lake.LakeFile] = []
    try:
        checked = spark.run_tasks(settings, _check, [(plan, p) for p in parts])
        filled = [path for path, (_read, _rejected, rows) in zip(staged, checked, strict=True) if rows]
        held = sets.held_rows(filled, stored, key, settings)
        finish = []
        for part in parts:
            mine = (held["_t"] == part.t) & (held["_row"] >= part.first_row)
            mine &= held["_row"] < part.first_row + part.lines
            finish.append((plan, part, held.loc[mine, "_row"].to_numpy()))
        finished_parts = spark.run_tasks(settings, _finish, finish)
        written = [f for f, _rows in finished_parts if f is not None]
        doubtful = [rows for _f, rows in finished_parts if not rows.empty]
        doubtful_rows = pd.concat(doubtful, ignore_index=True) if doubtful else empty_rows(key).assign(_original="")
        survivors, late = decide(engine, key, doubtful_rows, [], written, stored, ctx, labels)
        if not survivors.empty:
            tail = lake.Writer(engine, key, run_id, ".tail")
            tail.write(survivors)
            written.append(tail.close())  # type: ignore[arg-type]  # rows written: a file
        if not written and key in lake.SNAPSHOTS:  # an empty snapshot still replaces the stored one
            written.append(lake.write(engine, key, run_id, empty_rows(key)))  # type: ignore[arg-type]
    except BaseException:
        lake.discard(engine, written)
        for part in parts:  # those of tasks that finished before one failed
            _part(plan, part).path.unlink(missing_ok=True)
        raise
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
    rejects = [rejected for _read, rejected, _rows in checked] + [late]
    read: dict[str, int] = dict.fromkeys(labels, 0)
    for part, (rows_read, _rejected, _rows) in zip(parts, checked, strict=True):
        read[part.label] += rows_read
    return Streamed(finished(key, empty_rows(key), rejects, labels, read), written)


def _cut(paths: list[Path], key: str, settings: Settings, range_bytes: int) -> list[Part] | None:
    """The files' byte ranges below their headers, in file order; None when a file is not a CSV or its header's
    lines are not its records."""
    parts: list[Part] = []
    for t, path in enumerate(paths):
        label = shown_name(path)
        found = _file_header(path, settings, key, label) if path.suffix.lower() == ".csv" else None
        if found is None:
            return None
        header, start, encoding = found
        for begin, end in ranges.split(path, start, range_bytes):
            parts.append(Part(t, len(parts), str(path), label, header, encoding, begin, end))
    return parts


def _numbered(parts: list[Part], scans: list[ranges.Scan]) -> list[Part] | None:
    """The ranges with their lines, first rows and their file's encoding, as the process's reader would decide it
    for the whole file (`read.detect_encoding`); None when a range is not plain or a file decodes in neither
    encoding (the process's reader says which)."""
    encodings: dict[int, str] = {}
    for t in {p.t for p in parts}:
        head = next(p.encoding for p in parts if p.t == t)
        decodes = set(ranges.ENCODINGS).intersection(
            *(s.decodes for p, s in zip(parts, scans, strict=True) if p.t == t)
        )
        body = "utf-8" if head == "utf-8-sig" else head
        if body not in decodes:
            return None
        encodings[t] = body
    numbered, lines = [], dict.fromkeys(encodings, 0)
    for part, found in zip(parts, scans, strict=True):
        if not found.plain:
            return None
        first = part.header.first_data_row + lines[part.t]
        lines[part.t] += found.lines
        numbered.append(replace(part, encoding=encodings[part.t], lines=found.lines, first_row=first))
    return numbered


def _file_header(path: Path, settings: Settings, key: str, label: str) -> tuple[Header, int, str] | None:
    """The file's header, where its data begins and the encoding its header decodes in (utf-8-sig for a file with a
    byte-order mark); None when the header's lines are not its records (a quoted line end), for the process's
    reader."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            header, header_lines = _header(path, encoding, ALL_SOURCES[key], settings, label)
        except UnicodeDecodeError:
            continue
        if header_lines != header.index + 1:
            return None
        with open(path, "rb") as fh:
            bom = fh.read(3) == b"\xef\xbb\xbf"
        return header, ranges.data_start(path, header_lines), "utf-8-sig" if bom else encoding
    return None


def _scan(task: tuple[Part, int]) -> ranges.Scan:
    """On an executor: what a range holds (ranges.scan)."""
    part, limit = task
    return ranges.scan(part.path, part.begin, part.end, len(part.header.cells), limit)


def _staged(plan: Plan, part: Part) -> lake.Writer:
    return lake.Writer(plan.lake, plan.key, plan.run_id, f".stage-{part.k:05d}", extra=True)


def _part(plan: Plan, part: Part) -> lake.Writer:
    return lake.Writer(plan.lake, plan.key, plan.run_id, f".p{part.k:05d}")


def _check(task: tuple[Plan, Part]) -> tuple[int, pd.DataFrame, int]:
    """On an executor: a range's rows checked on their own; its open rows staged with their file and row. Gives the
    rows read, the rejects and the rows staged."""
    plan, part = task
    source = ALL_SOURCES[plan.key]
    table = ranges.read(part.path, part.begin, part.end, part.encoding, part.first_row, part.label, source, part.header)
    checked = check_rows(plan.key, table, part.t, plan.ctx)
    if not checked.rows.empty:
        writer = _staged(plan, part)
        writer.write(checked.rows)
        writer.close()
    return checked.read, checked.rejects, len(checked.rows)


def _finish(task: tuple[Plan, Part, np.ndarray]) -> tuple[lake.LakeFile | None, pd.DataFrame]:
    """On an executor: a range's staged rows, but the held ones, as its part of the run's file (None: no rows); the
    held ones as `streamed` holds them, with their original cells."""
    plan, part, held = task
    path = _staged(plan, part).path
    if not path.is_file():  # no open rows
        return None, empty_rows(plan.key).assign(_original="")
    staged = pq.read_table(path)
    rows = staged.column("_row").to_numpy()
    hold = np.isin(rows, held)
    writer = _part(plan, part)
    if not hold.all():
        writer.write_arrow(staged.filter(~hold).drop_columns(["_t", "_row"]))
    written = writer.close() if writer.rows else None
    kept = staged.filter(hold)
    frame = typed_frame(kept.drop_columns(["_t", "_row"]).to_pandas(), LAKE_TABLES[plan.key])
    frame["_t"] = part.t
    frame["_row"] = kept.column("_row").to_numpy()
    frame["_pos"] = frame["_row"] - part.first_row
    lines = frame["_pos"].to_numpy()
    frame["_original"] = ranges.originals(part.path, part.begin, part.end, part.encoding, lines) if len(lines) else []
    return written, frame.drop(columns=["run_id"], errors="ignore")
