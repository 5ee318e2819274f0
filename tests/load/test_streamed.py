"""A load validates each source as it reads it, chunk by chunk (monitor.load.streamed). Whatever the chunk size, that
gives exactly what validating the source whole gives (rules.validate.validate_source, the reference): the same rows
kept in the same order, the same rejects in the same order with the same original cells, the same counts; against
stored settlements too. A file whose reader must change part-way starts the source again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from monitor.files import read, stream
from monitor.files.read import files_by_source, read_source
from monitor.files.sources import ALL_SOURCES
from monitor.load.pipeline import run_load
from monitor.load.streamed import stream_source
from monitor.rules.divisions import level_of
from monitor.rules.validate import Context, Validated, validate_source
from monitor.storage import lake
from monitor.storage.seen import SeenKeys
from monitor.storage.store import connect
from tests.conftest import GOLDEN

ROOT_CODE = "990101000000"
RUN_DATE = date(2026, 11, 23)
SOURCES = ["divisions", "population", "deaths", "enrollment", "identities", "settlements"]


def _context(settings) -> Context:
    paths = files_by_source(GOLDEN / "load1", settings)["divisions"]
    codes = validate_source("divisions", read_source(paths, "divisions", settings), _bare(settings)).valid["code"]
    return Context(settings, ROOT_CODE, 2025, RUN_DATE, frozenset(c for c in codes if level_of(c) == "村社区"))


def _bare(settings) -> Context:
    return Context(settings, ROOT_CODE, 2025, RUN_DATE)


def _kept(engine, key: str, streamed) -> pd.DataFrame:
    """The rows a streamed source kept: the divisions' frame, or a lake source's files of the run."""
    if key not in lake.LAKE_TABLES:
        return streamed.validated.valid.drop(columns=["_file", "_row"]).reset_index(drop=True)
    kept = lake.read_files([lake.path_of(engine, f) for f in streamed.written], key)
    return kept.drop(columns="run_id") if key == "settlements" else kept


def _same(engine, key: str, streamed, whole: Validated) -> None:
    pd.testing.assert_frame_equal(streamed.validated.rejects, whole.rejects)
    assert streamed.validated.counts == whole.counts
    expected = whole.valid.drop(columns=["_file", "_row"]).reset_index(drop=True)
    kept = _kept(engine, key, streamed)
    if key in lake.LAKE_TABLES:  # its files: sorted by ID number per chunk, then the held rows; compare as sets
        order = list(ALL_SOURCES[key].duplicate_key)
        expected = expected.sort_values(order).reset_index(drop=True)
        kept = kept.sort_values(order).reset_index(drop=True)
        typed = expected.assign(run_id=1) if key == "settlements" else expected
        expected = lake._typed(lake.pa.Table.from_pandas(typed, preserve_index=False), key)
        expected = expected.drop(columns="run_id") if key == "settlements" else expected
    pd.testing.assert_frame_equal(kept, expected, check_categorical=False)
    if key not in lake.LAKE_TABLES:
        assert streamed.validated.valid["_row"].tolist() == whole.valid["_row"].tolist()
        assert streamed.validated.valid["_file"].astype(str).tolist() == whole.valid["_file"].astype(str).tolist()


@pytest.mark.parametrize("chunk_rows", [1, 2, 5, 500_000])
@pytest.mark.parametrize("key", SOURCES)
def test_a_source_streamed_in_chunks_is_validated_as_a_whole(key, chunk_rows, sqlite_url, settings):
    engine = connect(sqlite_url)
    ctx = _context(settings)
    paths = files_by_source(GOLDEN / "load1", settings)[key]
    streamed = stream_source(engine, key, paths, ctx, 1, settings, chunk_rows)
    whole = validate_source(key, read_source(paths, key, settings), ctx)
    assert not whole.rejects.empty or key == "deaths"  # the golden inbox has bad rows of nearly every source
    _same(engine, key, streamed, whole)


def second_load_settlements(engine, settings) -> tuple[list[Path], Validated]:
    """The golden first load stored; the second load's settlement files, and their validation as a whole against
    the stored settlements they mention (the reference)."""
    run_load(GOLDEN / "load1", settings, engine, year=2025, run_date=RUN_DATE)
    paths = files_by_source(GOLDEN / "load2", settings)["settlements"]
    raw = read_source(paths, "settlements", settings)
    ids = pd.concat([t.column(c) for t in raw for c in ("settlement_id", "reverses")]).str.strip().unique()
    stored = lake.rows_of(engine, "settlements", "settlement_id", [i for i in ids.tolist() if i])
    whole = validate_source("settlements", raw, Context(settings, ROOT_CODE, 2025, RUN_DATE, frozenset(), stored))
    assert {"DUPLICATE_ROW", "DUPLICATE_ID"} <= set(whole.rejects["reason"])  # what the stored rows decide
    return paths, whole


@pytest.mark.parametrize("chunk_rows", [1, 3, 500_000])
def test_settlements_streamed_against_stored_ones_are_validated_as_a_whole(chunk_rows, sqlite_url, settings):
    engine = connect(sqlite_url)
    paths, whole = second_load_settlements(engine, settings)
    streamed = stream_source(engine, "settlements", paths, _bare(settings), 9, settings, chunk_rows)
    _same(engine, "settlements", streamed, whole)
    lake.discard(engine, streamed.written)


def _settlements_csv(path: Path, short_at: int | None = None, long_at: int | None = None, rows: int = 40) -> None:
    header = "结算流水号,身份证号,姓名,结算日期,医疗总费用"
    lines = [header]
    for i in range(rows):
        line = f"S{i:05d},11010519491231002X,测试{i},2025-03-01,{100 + i}.00"
        if i == short_at:
            line = f"S{i:05d},11010519491231002X,测试{i}"
        if i == long_at:
            line += ",extra"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("short_at", "long_at"), [(None, None), (30, None), (None, 30), (2, None)])
def test_a_file_whose_reader_changes_part_way_is_read_again_whole(
    short_at, long_at, tmp_path, sqlite_url, settings, monkeypatch
):
    """Arrow's reader refuses a short line and pandas' a long one; when that happens after chunks were handed on,
    the source starts again with the other reader, and the result is what the whole-file reading gives."""
    monkeypatch.setattr(read, "line_limit", lambda _settings: 256)  # Arrow's blocks: a few lines each
    folder = tmp_path / "inbox"
    folder.mkdir()
    _settlements_csv(folder / "settlements_x.csv", short_at, long_at)
    paths = [folder / "settlements_x.csv"]
    engine = connect(sqlite_url)
    reread: list[str] = []
    real = stream.Reread.__init__

    def counted(self, path, mode):
        reread.append(mode)
        real(self, path, mode)

    monkeypatch.setattr(stream.Reread, "__init__", counted)
    ctx = _bare(settings)
    if long_at is not None:
        with pytest.raises(Exception, match="多出的单元格不为空"):
            validate_source("settlements", read_source(paths, "settlements", settings), ctx)
        with pytest.raises(Exception, match="多出的单元格不为空"):
            stream_source(engine, "settlements", paths, ctx, 1, settings, 4)
        assert reread == ["pandas", "whole"]  # Arrow fails on the long line, then pandas does
        return
    whole = validate_source("settlements", read_source(paths, "settlements", settings), ctx)
    streamed = stream_source(engine, "settlements", paths, ctx, 1, settings, 4)
    _same(engine, "settlements", streamed, whole)
    assert reread == (["pandas"] if short_at == 30 else [])  # row 2's short line fails Arrow before any chunk


def test_seen_keys_marks_a_key_met_before_in_the_chunk_an_earlier_one_or_the_store(tmp_path):
    stored = tmp_path / "stored.parquet"
    pd.DataFrame({"settlement_id": ["OLD"]}).to_parquet(stored)
    seen = SeenKeys(("settlement_id",), [stored])
    try:
        first = seen.mark(pd.DataFrame({"settlement_id": ["A", "B", "A", "OLD"]}))
        assert first.tolist() == [False, False, True, True]
        assert seen.mark(pd.DataFrame({"settlement_id": ["C", "B"]})).tolist() == [False, True]
    finally:
        seen.close()


@pytest.mark.parametrize("chunk_rows", [7, 500_000])
def test_a_gbk_file_with_a_byte_in_neither_encoding_past_its_first_mib_is_refused_by_name(
    chunk_rows, tmp_path, sqlite_url, settings
):
    """Arrow's reader transcodes GBK judged from the first MiB; a bad byte later fails it, before any chunk was handed
    on or after (the source is read again with pandas' reader), and the file is refused as a whole-file reading
    refuses it."""
    path = tmp_path / "deaths_gbk.csv"
    rows = "990101195001010012,张三,2025-01-02\n" * 40_000  # 1.4 MB
    path.write_bytes(("身份证号,姓名,死亡日期\n" + rows).encode("gbk") + b"990101,\xff\xff,x\n")
    with pytest.raises(read.LoadError, match="deaths_gbk.csv: 无法按 UTF-8 或 GB18030/GBK 读取"):
        stream_source(connect(sqlite_url), "deaths", [path], _bare(settings), 1, settings, chunk_rows)


@pytest.mark.parametrize("failing_part", [1, 3])
def test_a_part_that_cannot_be_written_stops_the_source_and_leaves_no_file(
    failing_part, tmp_path, sqlite_url, settings, monkeypatch
):
    """Parts are written on a thread of their own while the next chunk is read: its failure reaches the load, after
    which the run's file is removed, not left half-written."""
    monkeypatch.setattr(read, "line_limit", lambda _settings: 256)  # Arrow's blocks: a few lines, so several chunks
    folder = tmp_path / "inbox"
    folder.mkdir()
    _settlements_csv(folder / "settlements_x.csv", rows=40)
    engine = connect(sqlite_url)
    real, calls = lake.Writer.write_arrow, []

    def full_disk(self, arrow):
        calls.append(arrow.num_rows)
        if len(calls) == failing_part:
            raise OSError(28, "No space left on device")
        real(self, arrow)

    monkeypatch.setattr(lake.Writer, "write_arrow", full_disk)
    with pytest.raises(OSError, match="No space left"):
        stream_source(engine, "settlements", [folder / "settlements_x.csv"], _bare(settings), 1, settings, 10)
    assert len(calls) == failing_part  # no part after the failed one
    assert not list((lake.folder(engine) / "settlements").glob("*.parquet"))
