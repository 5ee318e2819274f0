"""Deliberately bad rows for the demo: a small, documented number of each rejection reason per source.

Each defect spoils one chosen row in place or appends one row; `inject` returns the file-form frame and
the rows the ETL must reject (0-based position in the frame, reason, canonical header).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Mutation = Callable[[pd.DataFrame, int, int], dict | None]  # (frame, row position, k) → appended row or None


def _set(column: str, value: str) -> Mutation:
    def spoil(frame: pd.DataFrame, i: int, _k: int) -> None:
        frame.iat[i, frame.columns.get_loc(column)] = value

    return spoil


def _both(first: Mutation, second: Mutation) -> Mutation:
    def spoil(frame: pd.DataFrame, i: int, k: int) -> None:
        first(frame, i, k)
        second(frame, i, k)

    return spoil


def _copy(changes: dict[str, Callable[[str], str]] | None = None) -> Mutation:
    def append(frame: pd.DataFrame, i: int, _k: int) -> dict:
        row = frame.iloc[i].to_dict()
        for column, change in (changes or {}).items():
            row[column] = change(row[column])
        return row

    return append


def _bad_check_digit(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


def _orphan(year: int) -> Mutation:
    def append(frame: pd.DataFrame, i: int, k: int) -> dict:
        row = frame.iloc[i].to_dict()
        for column in ("医疗总费用", "政策范围内费用", "基本医保支付", "大病保险支付", "医疗救助支付", "其他支付"):
            value = row[column]
            row[column] = value if value in ("", "0", "0.00") else "-" + value
        row["结算流水号"] = f"JS{year}R{k:09d}"
        row["原结算流水号"] = f"JS{year - 3}{k:010d}"  # names a settlement no load ever had
        return row

    return append


def _outside_root(frame: pd.DataFrame, i: int, k: int) -> dict:
    row = frame.iloc[i].to_dict()
    row["区划代码"] = f"980101{k + 1:03d}000"
    return row


def catalogue(year: int) -> dict[str, list[tuple[str, str, Mutation]]]:
    """Per source: (reason, header the ETL names, mutation). Documented in docs/demo.md."""
    future = f"{year + 3}-01-15"
    return {
        "divisions": [
            ("UNKNOWN_DIVISION", "区划代码", _outside_root),
            ("DUPLICATE_ROW", "区划代码", _copy()),
        ],
        "population": [
            ("MISSING_VALUE", "姓名", _set("姓名", "")),
            ("BAD_ID", "身份证号", lambda f, i, k: _set("身份证号", _bad_check_digit(f["身份证号"].iat[i]))(f, i, k)),
            ("UNKNOWN_DIVISION", "村社区代码", _set("村社区代码", "990101001999")),
            ("BAD_DATE", "出生日期", _set("出生日期", f"{year - 30}-02-30")),
            # With a status date: a status other than 正常 without one would be MISSING_VALUE first.
            ("UNKNOWN_VALUE", "人员状态", _both(_set("人员状态", "失联"), _set("状态变更日期", f"{year}-03-01"))),
            ("DUPLICATE_ROW", "身份证号", _copy()),
            ("DUPLICATE_ID", "身份证号", _copy({"联系电话": lambda v: "13900000000" if v != "13900000000" else ""})),
        ],
        "deaths": [
            ("BAD_DATE", "死亡日期", _set("死亡日期", "去年")),
            ("DUPLICATE_ROW", "身份证号", _copy()),
        ],
        "enrollment": [
            ("MISSING_VALUE", "参保年度", _set("参保年度", "")),
            ("BAD_ID", "身份证号", _set("身份证号", "9901011980")),
            ("UNKNOWN_VALUE", "险种", _set("险种", "商业保险")),
            ("OUT_OF_RANGE", "参保年度", _set("参保年度", "1999")),
            ("DUPLICATE_ID", "身份证号", _copy({"参保状态": lambda v: "终止参保" if v != "终止参保" else "暂停参保"})),
        ],
        "identities": [
            ("UNKNOWN_VALUE", "身份类别", _set("身份类别", "其他困难人员")),
            ("BAD_AMOUNT", "家庭人均年收入", _set("家庭人均年收入", "约五千")),
            ("OUT_OF_RANGE", "退出日期", _set("退出日期", "2015-06-30")),
            ("DUPLICATE_ROW", "身份证号", _copy()),
        ],
        "settlements": [
            ("MISSING_VALUE", "结算流水号", _set("结算流水号", "")),
            ("BAD_ID", "身份证号", _set("身份证号", "99010119800101001")),
            ("BAD_DATE", "结算日期", _set("结算日期", f"{year}-13-01")),
            ("BAD_AMOUNT", "医疗总费用", _set("医疗总费用", "12O.50")),
            ("INCONSISTENT_AMOUNTS", "医疗总费用", _set("基本医保支付", "999999.00")),
            ("OUT_OF_RANGE", "结算日期", _set("结算日期", future)),
            ("DUPLICATE_ROW", "结算流水号", _copy()),
            ("DUPLICATE_ID", "结算流水号", _copy({"医疗总费用": lambda v: f"{float(v) + 10:.2f}"})),
            ("ORPHAN_REVERSAL", "原结算流水号", _orphan(year)),
        ],
    }


def per_defect(rows: int) -> int:
    """How many rows of each defect a file of `rows` rows gets: 1 per 5,000 rows, at least 1, at most 40."""
    return int(max(1, min(40, rows // 5000)))


def inject(
    frame: pd.DataFrame, source: str, rng: np.random.Generator, year: int, eligible: np.ndarray | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spoil distinct eligible rows and append copies; returns the frame and the expected rejections."""
    frame = frame.copy()
    defects = catalogue(year)[source]
    k = per_defect(len(frame))
    pool = np.flatnonzero(eligible) if eligible is not None else np.arange(len(frame))
    if source == "divisions":  # villages only: spoiling the root or a town would orphan their children
        pool = np.flatnonzero(frame["区划代码"].str[-3:] != "000")
    picks = rng.choice(pool, size=k * len(defects), replace=False).reshape(len(defects), k)
    appended: list[dict] = []
    expected: list[tuple[int, str, str]] = []
    for (reason, header, mutate), rows in zip(defects, picks, strict=False):
        for j, i in enumerate(sorted(rows)):
            extra = mutate(frame, int(i), j)
            if extra is None:
                expected.append((int(i), reason, header))
            else:
                expected.append((len(frame) + len(appended), reason, header))
                appended.append(extra)
    if appended:
        frame = pd.concat([frame, pd.DataFrame(appended, columns=frame.columns)], ignore_index=True)
    return frame, pd.DataFrame(expected, columns=["position", "reason", "column"])
