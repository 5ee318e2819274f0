"""Writes the golden inbox files that cannot be typed as text: a GBK csv and multi-sheet xlsx workbooks.

The rows are literal and hand-made; run this only to regenerate the committed files.
"""

from datetime import date, datetime
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent
P1, P2, P3 = "990101196005010119", "990101198503120221", "990101202503010339"
P5, P6, P7 = "990101195001010555", "990101195202020661", "990101197007070777"
P8, P9, P10 = "990101199010100884", "990101198808080996", "990101197501011115"
P12, P13 = "990101196503031334", "990101197004041444"

DEATHS = [
    ("身份证号", "姓名", "死亡日期"),
    (P6, "孙八", "2025-05-01"),
    (P7, "周九", "2025年9月1日"),
    (P5, "钱七", "2025.03.01"),
    (P6, "孙八", "2025-05-01"),
    ("XYZ", "某", "2025-01-01"),
    (P1, "张三", ""),
]

IDENTITIES_1 = {
    "民政": [
        ("身份证号", "姓名", "人员类别", "认定部门", "认定日期", "退出日期", "户号", "家庭人均年收入"),
        (P1, "张三", "最低生活保障对象", "民政", "2024-01-01", None, "H001", 3600),
        (P9, "郑十一", "特困人员", "民政", date(2023, 5, 1), None, "H005", None),
        (P10, "冯十二", "重度残疾人", "残联", "2022-01-01", None, "H006", None),
        (P13, "褚某", "低保对象", "民政", "2025-01-01", None, "H099", None),
        (P1, "张三", "脱贫人口", "乡村振兴", "2020-01-01", None, "H001", None),
        (P2, "李四", "低保对象", "民政", "2025-09-01", None, "H001", None),
        (None, "某", "低保对象", "民政", "2025-01-01", None, None, None),
        (P1, "张三", "低保", "民政", "2025-01-01", None, None, None),
        (P9, "郑十一", "特困人员", "民政", datetime(2023, 5, 1), None, "H005", None),
    ],
    "乡村振兴": [
        ("身份证号", "姓名", "身份类别", "认定部门", "认定日期", "退出日期", "户号", "家庭人均年收入"),
        (P12, "褚十四", "防止返贫监测对象", "乡村振兴", "2024-01-01", "2025-06-01", "H008", None),
        (P12, "褚十四", "脱贫不稳定户", "乡村振兴", "2025-05-01", "2025-04-01", "H008", None),
        (P8, "吴十", "边缘易致贫户", "乡村振兴", "2025-07-01", None, "H005", None),
        (P3, "王五", "孤儿", "民政", "2025/03/01", None, "H002", "1,2,3"),
        (P7, "周九", "监测对象", "乡村振兴", "2025-01-01", "2025-02-30", "H004", None),
    ],
    "说明": [("本表由民政局导出",), ("请勿修改表头",)],
}

IDENTITIES_2 = {
    "民政": [
        ("公民身份号码", "姓名", "困难身份", "认定部门", "认定日期", "退出日期", "户号"),
        (P1, "张三", "低保对象", "民政", "2024-01-01", None, "H001"),
        (P10, "冯十二", "重度残疾人", "残联", "2022-01-01", None, "H006"),
        (P10, "冯十二", "低保边缘户", "民政", "2024-01-01", None, "H006"),
        (P13, "褚某", "低保对象", "民政", "2025-01-01", None, "H099"),
        (P2, "李四", "低保对象", "民政", "2025-03-01", None, "H001"),
        (P12, "褚十四", "监测对象", "乡村振兴", "2024-01-01", "2025-06-01", "H008"),
    ],
}


def write_book(path: Path, sheets: dict) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)


if __name__ == "__main__":
    text = "\r\n".join(",".join(r) for r in DEATHS) + "\r\n"
    (HERE / "load1" / "deaths_gbk.csv").write_bytes(text.encode("gbk"))
    write_book(HERE / "load1" / "identities_2025-06.xlsx", IDENTITIES_1)
    write_book(HERE / "load2" / "identities_2025-10.xlsx", IDENTITIES_2)
