"""Files read within bounds (issue 24): zip bombs, absurd sheets, headers and lines are refused unread, with one line
naming the user's own file, through every reader — read_source, a load, an upload, a feedback import."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import xlsxwriter
from conftest import GOLDEN, ROOT

from monitor.cases import feedback
from monitor.files import bounds
from monitor.files.read import LoadError, files_by_source, read_source
from monitor.files.uploads import UploadError, save_uploads
from monitor.load.pipeline import RunError, run_load
from monitor.storage import queries
from monitor.storage.store import connect

SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["身份证号", "姓名", "死亡日期"]
ROW = ["990101195001010012", "张三", "2025-01-02"]
LOAD = {"year": 2025, "as_of": date(2025, 6, 30)}
STORED = ("divisions", "population", "deaths", "enrollment", "identities", "settlements", "alerts", "outreach")
IDENTITIES = "identities_2025-06.xlsx"  # the golden load's identity list
MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _xlsx(path: Path, rows=(HEADER, ROW)) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("死亡名单")
    for i, row in enumerate(rows):
        sheet.write_row(i, 0, row)
    book.close()
    return path


def _replace(path: Path, member: str, write, level: int = 6) -> Path:
    """The xlsx with one member rewritten: write(fh) streams its new bytes, deflated as a zip bomb's are."""
    with zipfile.ZipFile(path) as old:
        members = [(info.filename, old.read(info.filename)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as new:
        for name, data in members:
            if name != member:
                new.writestr(name, data)
        with new.open(member, "w", force_zip64=True) as fh:
            write(fh)
    return path


def _rows(mib: int):
    """A worksheet of `mib` MiB of rows of one cell: valid XML that calamine would read, row after row."""

    def write(fh):
        fh.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="%s"><sheetData>' % MAIN)
        block = b"<row><c><v>1</v></c></row>" * ((1 << 20) // 26)
        for _ in range(mib):
            fh.write(block)
        fh.write(b"</sheetData></worksheet>")

    return write


def _edit_sheet(path: Path, edit) -> Path:
    with zipfile.ZipFile(path) as book:
        xml = book.read(SHEET)
    return _replace(path, SHEET, lambda fh: fh.write(edit(xml)))


def _far_cell(ref: bytes, *, positional: bool = False):
    """An edit of the sheet: its dimension dropped and one more cell far away (by its reference, or placed by
    position in a far row: calamine reads both)."""

    def edit(xml: bytes) -> bytes:
        row = re.search(rb"[0-9]+", ref).group()
        cell = b"<c><v>1</v></c>" if positional else b'<c r="%s"><v>1</v></c>' % ref
        xml = re.sub(rb"<dimension [^>]*/>", b"", xml)
        return xml.replace(b"</sheetData>", b'<row r="%s">%s</row></sheetData>' % (row, cell))

    return edit


@pytest.fixture
def small(settings):
    """Settings that unpack at most 50 MB, so that a bomb need not be gigabytes to be one."""
    return dataclasses.replace(settings, xlsx_max_uncompressed_mb=50)


def _refused(paths: list[Path], source: str, settings) -> str:
    with pytest.raises(LoadError) as caught:
        read_source(paths, source, settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- xlsx ----------------------------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path, small):
    bomb = _replace(_xlsx(tmp_path / "deaths_bomb.xlsx"), SHEET, _rows(60))
    assert bomb.stat().st_size < 1 << 20
    message = _refused([bomb], "deaths", small)
    assert message == "deaths_bomb.xlsx: 解压后 60 MB，超过上限 50 MB，未读取（可能是压缩炸弹）"


def test_a_member_compressed_too_many_times_is_refused(tmp_path, settings):
    bomb = _replace(_xlsx(tmp_path / "deaths_ratio.xlsx"), SHEET, _rows(20))
    message = _refused([bomb], "deaths", settings)
    assert re.fullmatch(
        r"deaths_ratio\.xlsx: xl/worksheets/sheet1\.xml 解压后 20 MB，是压缩后的 \d+ 倍，超过上限 100 倍，"
        r"未读取（可能是压缩炸弹）",
        message,
    ), message


def test_a_sheet_declaring_16384_columns_is_refused(tmp_path, settings):
    path = _edit_sheet(
        _xlsx(tmp_path / "deaths_wide.xlsx"),
        lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml),
    )
    message = _refused([path], "deaths", settings)
    assert message == "deaths_wide.xlsx: 工作表 死亡名单 声明的范围 A1:XFD1048576 有 16384 列，超过上限 500 列，未读取"


@pytest.mark.parametrize(
    ("ref", "positional", "expected"),
    [
        (b"XFD1048576", False, "的单元格区域 A1:XFD1048576 有 16384 列，超过上限 500 列，未读取"),
        (b"xfd7", False, "的单元格区域 A1:XFD7 有 16384 列，超过上限 500 列，未读取"),
        (b"C1048576", False, "的单元格区域 A1:C1048576 有 3,145,728 个单元格，而该工作表压缩后只有"),
        (b"A1048576", True, "的单元格区域 A1:C1048576 有 3,145,728 个单元格，而该工作表压缩后只有"),
    ],
)
def test_a_sheet_whose_cells_reach_far_is_refused_whatever_it_declares(tmp_path, settings, ref, positional, expected):
    """Two cells, A1 and XFD1048576, in a sheet of a few hundred bytes: calamine would ask for 17 billion cells and
    abort the process. The sheet declares no dimension; a cell placed by position reaches as far."""
    path = _edit_sheet(_xlsx(tmp_path / "deaths_far.xlsx"), _far_cell(ref, positional=positional))
    message = _refused([path], "deaths", settings)
    assert message.startswith(f"deaths_far.xlsx: 工作表 死亡名单 {expected}"), message


def test_a_cell_repeating_its_reference_is_placed_by_the_last_one(tmp_path, settings):
    """calamine takes a tag's last r attribute; the scan must too (here behind a quoted '>')."""
    path = _edit_sheet(
        _xlsx(tmp_path / "deaths_twice.xlsx"),
        lambda xml: xml.replace(b'<c r="A2"', b'<c r="A2" x=">" r="XFD2"', 1),
    )
    assert "A1:XFD2 有 16384 列" in _refused([path], "deaths", settings)


@pytest.mark.parametrize(
    "edit",
    [
        lambda xml: re.sub(rb'(<c|<row) r="[A-Z0-9]+"', rb"\1", xml),  # cells and rows placed by position
        lambda xml: xml.replace(b"<", b"<x:").replace(b"<x:/", b"</x:").replace(b"<x:?", b"<?"),  # prefixed names
        lambda xml: re.sub(rb'<c r="([A-Z0-9]+)"( t="s")?', rb'<c\2 r="\1"', xml),  # r after other attributes
    ],
    ids=["positional", "prefixed", "r-last"],
)
def test_sheets_of_other_writers_are_read_as_before(tmp_path, settings, edit):
    path = _edit_sheet(_xlsx(tmp_path / "deaths_odd.xlsx", rows=(HEADER, ROW, ROW)), edit)
    (table,) = read_source([path], "deaths", settings)
    assert table.cells.values.tolist() == [ROW, ROW] and table.row_numbers.tolist() == [2, 3]


def test_a_file_that_is_no_zip_is_refused(tmp_path, settings):
    path = tmp_path / "deaths_fake.xlsx"
    path.write_bytes("身份证号,姓名\n".encode() * 100)
    assert (
        _refused([path], "deaths", settings) == "deaths_fake.xlsx: 不是有效的 xlsx 文件（无法按 zip 格式打开），未读取"
    )


def test_a_zip_of_70000_members_is_refused_before_its_directory_is_read(tmp_path, settings):
    path = tmp_path / "deaths_many.xlsx"
    with zipfile.ZipFile(path, "w") as book:  # more than 65,535 members: a zip64 end record
        book.writestr("[Content_Types].xml", b"")
        for i in range(70_000):
            book.writestr(f"x/{i}", b"")
    assert _refused([path], "deaths", settings).startswith("deaths_many.xlsx: 含 70001 个压缩成员（目录 ")


def test_an_ordinary_workbook_passes_every_check(tmp_path, settings):
    rows = [HEADER] + [[f"99010119500101{i:04d}", f"张{i}", "2025-01-02"] for i in range(3000)]
    (table,) = read_source([_xlsx(tmp_path / "deaths_ok.xlsx", rows=rows)], "deaths", settings)
    assert len(table.cells) == 3000


# --- CSV -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])  # Arrow's path, pandas' path
def test_a_header_of_100000_columns_is_refused_at_once(tmp_path, settings, encoding):
    path = tmp_path / "deaths_wide.csv"
    header = ",".join(HEADER + [f"列{i}" for i in range(100_000 - 3)])
    path.write_bytes((header + "\n" + ",".join(ROW) + "\n").encode(encoding))
    assert _refused([path], "deaths", settings) == "deaths_wide.csv: 第 1 行有 100000 列，超过上限 500 列，未读取"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
@pytest.mark.parametrize("row", [3, 40])  # among the header rows looked at; further down
def test_a_line_of_5_mb_is_refused_naming_its_row(tmp_path, settings, encoding, row):
    path = tmp_path / "deaths_long.csv"
    lines = [",".join(HEADER)] + [",".join(ROW)] * 50
    lines[row - 1] = "990101195001010012,张三," + "长" * ((5 << 20) // 3)
    path.write_bytes("\r\n".join(lines).encode(encoding))
    expected = f"deaths_long.csv: 第 {row} 行超过 1024 KB，未读取（行过长，可能不是正常的 CSV 文件）"
    assert _refused([path], "deaths", settings) == expected


def test_a_data_row_of_too_many_cells_is_refused_naming_its_row(tmp_path, settings):
    path = tmp_path / "deaths_cells.csv"
    lines = [",".join(HEADER)] + [",".join(ROW)] * 9
    lines[6] += "," * 1000
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _refused([path], "deaths", settings) == "deaths_cells.csv: 第 7 行有 1003 列，超过上限 500 列，未读取"


class _Counted(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        self.taken += len(data)
        return data


def test_a_long_line_stops_the_reading_of_the_file(settings):
    data = _Counted(b"a,b\n" + b"x" * (5 << 20) + b"\n" + b"1,2\n" * (12 << 20))
    with pytest.raises(bounds.BoundsError, match="第 2 行"):
        bounds.check_lines(data, "settlements_x.csv", settings)
    assert data.taken < 16 << 20 < len(data.getvalue())


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_lines_up_to_the_limit_pass(settings, newline):
    limit = settings.max_line_kb * 1024
    data = newline.join([b"a,b", b"x" * limit, b"y" * (limit - 1), b"1,2"] * 3)
    bounds.check_lines(io.BytesIO(data), "settlements_x.csv", settings)
    with pytest.raises(bounds.BoundsError, match="第 13 行"):
        bounds.check_lines(io.BytesIO(data + newline + b"z" * (limit + 1)), "settlements_x.csv", settings)


# --- every reader: a load, an upload, a feedback import -----------------------------------------------------------


def _counts(engine) -> dict[str, int]:
    from monitor.storage import lake

    with engine.connect() as conn:
        return {
            t: len(lake.read(engine, t))
            if t in lake.LAKE_TABLES
            else conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in STORED
        }


def _hostile(kind: str, folder: Path) -> str:
    """Make one file of a copy of the golden load hostile; the name the message must start with."""
    if kind == "bomb":
        _replace(folder / IDENTITIES, SHEET, _rows(60))
        return IDENTITIES
    if kind == "far cell":
        _edit_sheet(folder / IDENTITIES, _far_cell(b"XFD1048576"))
        return IDENTITIES
    path = folder / "population_2025.csv"
    lines = path.read_bytes().splitlines()
    lines[0 if kind == "wide header" else 3] += b"," * (100_000 if kind == "wide header" else 5 << 20)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return "population_2025.csv"


@pytest.mark.parametrize("kind", ["bomb", "far cell", "wide header", "long line"])
def test_a_load_refuses_the_file_records_a_failed_run_and_changes_nothing(tmp_path, sqlite_url, small, kind):
    engine = connect(sqlite_url)
    first = run_load(GOLDEN / "load1", small, engine, **LOAD)
    before = _counts(engine)
    folder = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "load1", folder)
    name = _hostile(kind, folder)
    with pytest.raises(RunError) as caught:
        run_load(folder, small, engine, **LOAD)
    assert str(caught.value).startswith(f"{name}: ")
    failed = queries.latest_run(engine, status="failed")
    assert failed["id"] == caught.value.run_id and failed["message"] == str(caught.value)
    assert queries.latest_run(engine)["id"] == first.run_id and _counts(engine) == before


def test_an_upload_out_of_bounds_is_refused_by_its_own_name_and_nothing_is_written(tmp_path, small):
    bomb = _replace(_xlsx(tmp_path / "b.xlsx"), SHEET, _rows(60)).read_bytes()
    uploads = tmp_path / "uploads"
    with pytest.raises(UploadError, match=r"^identities_我的名单\.xlsx: 解压后 60 MB，超过上限 50 MB"):
        save_uploads([("deaths_a.csv", b"x"), ("identities_我的名单.xlsx", bomb)], uploads, small)
    long = b"a,b\n1,2\n" + b"x" * (2 << 20) + b"\n"
    with pytest.raises(UploadError, match=r"^settlements_六月\.csv: 第 3 行超过 1024 KB"):
        save_uploads([("settlements_六月.csv", long)], uploads, small)
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_a_load_of_uploads_names_the_users_files(tmp_path, sqlite_url, settings):
    """Uploads are stored as population_00_<random>.csv; messages, table labels and rejects name the originals."""
    far = _edit_sheet(_xlsx(tmp_path / "x.xlsx"), _far_cell(b"XFD1048576")).read_bytes()
    good = (",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode()
    folder = save_uploads([("deaths_我的.xlsx", far), ("deaths_本月.csv", good)], tmp_path / "uploads", settings)
    stored = sorted(p.name for p in folder.iterdir() if p.name.startswith("deaths_"))
    assert all(re.fullmatch(r"deaths_0\d_[0-9a-f]{12}\.(csv|xlsx)", name) for name in stored), stored
    with pytest.raises(RunError) as caught:
        run_load(folder, settings, connect(sqlite_url), **LOAD)
    assert str(caught.value).startswith("deaths_我的.xlsx: 工作表 死亡名单 的单元格区域 A1:XFD1048576 有 16384 列")
    next(folder.glob("deaths_*.xlsx")).unlink()  # the CSV alone reads, labelled by its own name
    (table,) = read_source(files_by_source(folder, settings)["deaths"], "deaths", settings)
    assert table.label == "deaths_本月.csv"


def test_two_uploads_of_one_name_keep_distinct_labels(tmp_path, settings):
    good = (",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode()
    folder = save_uploads([("deaths.csv", good), ("a/deaths.csv", good)], tmp_path / "uploads", settings)
    labels = [t.label for t in read_source(files_by_source(folder, settings)["deaths"], "deaths", settings)]
    assert len(set(labels)) == 2 and all(label.startswith("deaths.csv（deaths_0") for label in labels), labels


def test_a_feedback_import_refuses_a_bomb_by_its_name(tmp_path, sqlite_url, small):
    bomb = _replace(_xlsx(tmp_path / "反馈_青禾区.xlsx"), SHEET, _rows(60))
    with pytest.raises(LoadError, match=r"^反馈_青禾区\.xlsx: 解压后 60 MB，超过上限 50 MB"):
        feedback.import_feedback(connect(sqlite_url), bomb, small, "李科员", "990101000000")


# --- the process stays within bounds -------------------------------------------------------------------------------

CHILD = """
import sys
from datetime import date
from pathlib import Path
from monitor.config import load_settings
from monitor.load.pipeline import RunError, run_load
from monitor.storage.store import connect

settings = load_settings(Path(sys.argv[1]))
try:
    run_load(Path(sys.argv[2]), settings, connect(sys.argv[3]), year=2025, as_of=date(2025, 6, 30))
    print("LOADED")
except RunError as exc:
    print(exc)
status = Path("/proc/self/status").read_text()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")
def test_a_load_of_a_real_zip_bomb_stays_under_1_gib(tmp_path, settings):
    """A 3 MB xlsx whose sheet unpacks to 1.1 GiB of rows (the shipped limit is 1024 MB), loaded in a process of its
    own: refused by its name, the process's peak resident memory stays far under 1 GiB."""
    folder = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "load1", folder)
    _replace(folder / IDENTITIES, SHEET, _rows(1152))
    assert (folder / IDENTITIES).stat().st_size < 4 << 20
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "config.toml"), str(folder), f"sqlite:///{tmp_path / 'm.db'}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    message, peak_kib = child.stdout.strip().splitlines()[-2:]
    assert message == f"{IDENTITIES}: 解压后 1.1 GB，超过上限 1024 MB，未读取（可能是压缩炸弹）"
    print(f"peak resident memory of the load: {int(peak_kib) / 1024:.0f} MiB")
    assert int(peak_kib) < 1 << 20
