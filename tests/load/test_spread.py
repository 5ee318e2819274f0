"""A lake source read and validated on Spark's executors (monitor.load.spread, issue 21) gives exactly what validating
it whole gives (rules.validate.validate_source, the reference), as the streamed load does: the same rows in the
run's files, the same rejects in the same order with the same original cells, the same counts; in ranges of a line
or of many, in UTF-8 or GBK, with \\n or \\r\\n, over several files, against stored settlements. A source with a
file that is not plain (quotes, a short line, a workbook) is left to the load's process."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.files.read import files_by_source, read_source
from monitor.load.spread import spread_source
from monitor.rules.validate import validate_source
from monitor.storage import lake
from monitor.storage.store import connect
from tests.conftest import GOLDEN
from tests.load.test_streamed import _bare, _context, _same, second_load_settlements

GOLDEN_SETTLEMENTS = (GOLDEN / "load1" / "settlements_2025a.csv").read_text(encoding="utf-8")
# the golden file's two quoted amounts written without quotes, so the file is plain
PLAIN_SETTLEMENTS = GOLDEN_SETTLEMENTS.replace('"30,000.00"', "30000.00").replace('"1,00.5"', "1x00.5")


@pytest.fixture(scope="module")
def spark_settings(spark_config):
    return load_settings(spark_config)


def _check(engine, key, paths, ctx, settings, spark_settings, range_bytes, run_id=1):
    spread = spread_source(engine, key, paths, ctx, run_id, spark_settings, range_bytes)
    assert spread is not None
    _same(engine, key, spread, validate_source(key, read_source(paths, key, settings), ctx))
    left = {p.relative_to(lake.folder(engine)).as_posix() for p in (lake.folder(engine) / key).glob("*")}
    assert left == {f.path for f in spread.written}  # the scratch files (staged rows, rejects, held rows) are gone
    return spread


# a range per line, a few lines, the whole file: Spark starts a task per range, a few hundred milliseconds each
@pytest.mark.parametrize(("key", "range_bytes"), [("population", 200), ("deaths", 1), ("enrollment", 1 << 26)])
def test_a_snapshot_validated_on_the_executors_is_validated_as_a_whole(
    key, range_bytes, sqlite_url, settings, spark_settings
):
    engine = connect(sqlite_url)
    paths = files_by_source(GOLDEN / "load1", settings)[key]
    ctx = _context(settings)
    spread = _check(engine, key, paths, ctx, settings, spark_settings, range_bytes)
    assert not spread.validated.rejects.empty


def _write(folder: Path, name: str, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = folder / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def _quoted(text: str) -> str:
    """Every cell in quotes, as many systems export them."""
    return "".join(",".join(f'"{c}"' for c in line.split(",")) + "\n" for line in text.splitlines())


@pytest.mark.parametrize(
    ("encoding", "newline", "quoted", "range_bytes"),
    [("utf-8", "\n", False, 1), ("gb18030", "\r\n", True, 300), ("utf-8-sig", "\r\n", True, 1 << 26)],
)
def test_settlements_in_several_files_validated_on_the_executors(
    encoding, newline, quoted, range_bytes, tmp_path, sqlite_url, settings, spark_settings
):
    """Two files, the second repeating rows and keys of the first: the checks across rows see both, in file order."""
    lines = (_quoted(PLAIN_SETTLEMENTS) if quoted else PLAIN_SETTLEMENTS).splitlines(keepends=True)
    first = _write(tmp_path, "settlements_1.csv", "".join(lines), encoding, newline)
    second = _write(tmp_path, "settlements_2.csv", "".join([lines[0], *lines[1:8], lines[3]]), encoding, newline)
    engine = connect(sqlite_url)
    ctx = _bare(settings)
    spread = _check(engine, "settlements", [first, second], ctx, settings, spark_settings, range_bytes)
    reasons = set(spread.validated.rejects["reason"])
    assert {"DUPLICATE_ROW", "BAD_AMOUNT"} <= reasons
    lake.discard(engine, spread.written)


@pytest.mark.parametrize("range_bytes", [40, 1 << 26])
def test_settlements_validated_on_the_executors_against_stored_ones(range_bytes, sqlite_url, settings, spark_settings):
    engine = connect(sqlite_url)
    paths, whole = second_load_settlements(engine, settings)
    spread = spread_source(engine, "settlements", paths, _bare(settings), 9, spark_settings, range_bytes)
    assert spread is not None
    _same(engine, "settlements", spread, whole)
    lake.discard(engine, spread.written)


@pytest.mark.parametrize(
    "text",
    [
        GOLDEN_SETTLEMENTS,  # quoted cells
        PLAIN_SETTLEMENTS.replace("\nS053,", "\nS053\nS054,"),  # a short line
        PLAIN_SETTLEMENTS.replace("\n", "\r", 3),  # lines ended by a lone \r
    ],
)
def test_a_source_that_is_not_plain_is_left_to_the_process(text, tmp_path, sqlite_url, settings, spark_settings):
    path = _write(tmp_path, "settlements_x.csv", text)
    engine = connect(sqlite_url)
    assert spread_source(engine, "settlements", [path], _bare(settings), 1, spark_settings, 100) is None
    assert not list((lake.folder(engine) / "settlements").glob("*"))
    identities = files_by_source(GOLDEN / "load1", settings)["identities"]  # a workbook
    assert spread_source(engine, "identities", identities, _bare(settings), 1, spark_settings) is None
