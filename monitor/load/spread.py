"""A lake source read and validated on Spark's executors ([engine] kind = "spark", issue 21), so a province's rows
never pass through the load's process (which still reads each file's header, and its bytes once for its digest):
the same rows kept, rejects and counts as `monitor.load.streamed` gives, the run's rows in a part per range.

Each CSV file is cut into byte ranges (`monitor.files.ranges`), and the executors work on them in three passes:
1. `_scan`: each range's lines and whether it is plain. A source with a file that is not plain (a comma or quote
   in quotes, lines of another width, a workbook) is read in the load's process instead, as before
   (`spread_source` gives None).
2. `_check`: each range's rows numbered from the line counts and checked on their own (`rules.validate.check_rows`);
   its open rows staged in the lake with their file and row (`run-<id>.stage-<k>.parquet`), its rejects with their
   original cells beside them (`run-<id>.rejects-<k>.parquet`).
3. The rows a check across rows may reject (SPEC §5: a key met before, in a stored file or earlier in the load; a
   reversal) are found on the engine over the staged and the stored files (`rules.repeats.held`), then `_finish`
   writes each range's other rows as its part of the run's file (`run-<id>.p<k>.parquet`, sorted by ID number as
   every part is) and the held ones with their original cells beside it (`run-<id>.held-<k>.parquet`).
The load reads the rejects and the held rows from their files (what comes back through Spark is counts and file
records); the held rows, a few in a million and the reversals, are decided with the rows that share their keys,
exactly as the streamed load decides them (`streamed.decide`); those that pass go to the run's tail. The scratch
files go when the source is done, and a killed load's are swept with its unrecorded parts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
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
    rejected = [_scratch(plan, p, "rejects") for p in parts]
    held_files = [_scratch(plan, p, "held") for p in parts]
    written: list[lake.LakeFile] = []
    try:
        checked = spark.run_tasks(settings, _check, [(plan, p) for p in parts])
        filled = [path for path, (_read, rows) in zip(staged, checked, strict=True) if rows]
        held = sets.held_rows(filled, stored, key, settings)
        finish = [(plan, part, rows) for part, rows in zip(parts, _by_part(held, parts), strict=True)]
        written = [f for f in spark.run_tasks(settings, _finish, finish) if f is not None]
        doubtful = _held_rows(held_files, key)
        survivors, late = decide(engine, key, doubtful, [], written, stored, ctx, labels)
        rejects = [_read_scratch(rejected, pd.DataFrame()), late]
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
        for path in staged + rejected + held_files:
            path.unlink(missing_ok=True)
    read: dict[str, int] = dict.fromkeys(labels, 0)
    for part, (rows_read, _rows) in zip(parts, checked, strict=True):
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


def _by_part(held: pd.DataFrame, parts: list[Part]) -> list[np.ndarray]:
    """The held rows' physical rows, split by the range that holds them (a file's ranges hold consecutive rows)."""
    found: list[np.ndarray] = [np.array([], dtype=np.int64)] * len(parts)
    for t, rows in held.groupby("_t")["_row"]:
        mine = [p for p in parts if p.t == t]
        rows = np.sort(rows.to_numpy(dtype=np.int64))
        cuts = np.searchsorted(rows, [p.first_row for p in mine] + [mine[-1].first_row + mine[-1].lines])
        for i, part in enumerate(mine):
            found[part.k] = rows[cuts[i] : cuts[i + 1]]
    return found


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


def _scratch(plan: Plan, part: Part, kind: str) -> Path:
    """A range's file of its `kind` (staged rows, rejects, held rows) for this run, in the lake, removed by the run."""
    return plan.lake / plan.key / f"run-{plan.run_id}.{kind}-{part.k:05d}.parquet"


def _write_scratch(path: Path, frame: pd.DataFrame) -> None:
    """A frame as a scratch file, the service's own like the lake's (it holds rows: names, ID numbers)."""
    lake.private_folder(path.parent)
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), fh)


def _read_scratch(paths: list[Path], empty: pd.DataFrame) -> pd.DataFrame:
    found = [pq.read_table(p).to_pandas() for p in paths if p.is_file()]
    return pd.concat(found, ignore_index=True) if found else empty


def _held_rows(paths: list[Path], key: str) -> pd.DataFrame:
    """The held rows of every range, as the streamed load holds them: the source's columns in the core's dtypes
    (as the lake gives them), then _t, _row, _pos and _original."""
    extra = ["_t", "_row", "_pos", "_original"]
    found = _read_scratch(paths, pd.DataFrame())
    if found.empty:
        return empty_rows(key).assign(_original="")
    typed = typed_frame(found, LAKE_TABLES[key]).drop(columns=["run_id"], errors="ignore")
    return pd.concat([typed, found[extra]], axis=1)


def _check(task: tuple[Plan, Part]) -> tuple[int, int]:
    """On an executor: a range's rows checked on their own; its open rows staged with their file and row, its
    rejects in a file of their own (a file of bad rows may reject them all: they do not come back through Spark's
    driver). Gives the rows read and the rows staged."""
    plan, part = task
    source = ALL_SOURCES[plan.key]
    table = ranges.read(part.path, part.begin, part.end, part.encoding, part.first_row, part.label, source, part.header)
    checked = check_rows(plan.key, table, part.t, plan.ctx)
    if not checked.rows.empty:
        writer = _staged(plan, part)
        writer.write(checked.rows)
        writer.close()
    if not checked.rejects.empty:
        _write_scratch(_scratch(plan, part, "rejects"), checked.rejects)
    return checked.read, len(checked.rows)


def _finish(task: tuple[Plan, Part, np.ndarray]) -> lake.LakeFile | None:
    """On an executor: a range's staged rows, but the held ones, as its part of the run's file (None: no rows); the
    held ones, as `streamed` holds them with their original cells, in a file of their own (a load that sends
    settlements already stored holds every row)."""
    plan, part, held = task
    path = _staged(plan, part).path
    if not path.is_file():  # no open rows
        return None
    staged = pq.read_table(path)
    rows = staged.column("_row").to_numpy()
    hold = np.isin(rows, held)
    writer = _part(plan, part)
    if not hold.all():
        writer.write_arrow(staged.filter(~hold).drop_columns(["_t", "_row"]))
    written = writer.close() if writer.rows else None
    if hold.any():
        kept = staged.filter(hold)
        frame = kept.drop_columns(["_t", "_row"]).to_pandas()
        frame["_t"] = part.t
        frame["_row"] = kept.column("_row").to_numpy()
        frame["_pos"] = frame["_row"] - part.first_row
        lines = frame["_pos"].to_numpy()
        frame["_original"] = ranges.originals(part.path, part.begin, part.end, part.encoding, lines)
        _write_scratch(_scratch(plan, part, "held"), frame)
    return written
