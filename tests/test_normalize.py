"""Each normaliser of SPEC §4 on its worked examples and edge cases."""

from datetime import date

import pandas as pd
import pytest

from monitor import normalize as norm

RUN_DATE = date(2026, 11, 23)


@pytest.mark.parametrize("raw, expected", [
    ("11010519491231002X", "11010519491231002X"),  # the spec's example
    ("110105491231002", "11010519491231002X"),  # 15-digit legacy number converted
    (" 11010519491231002x ", "11010519491231002X"),  # trimmed, x → X
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width folded
    ("990101901010088", "990101199010100884"),
    ("110105194912310021", None),  # wrong check digit
    ("110105189912310023", None),  # born before 1900, valid check digit
    ("990101209901010010", None),  # born after the day of the run
    ("990101202502300019", None),  # 30 February, valid check digit
    ("1101051949123100", None),  # 16 digits
    ("abc", None),
])
def test_id_numbers(raw, expected):
    values, bad = norm.id_numbers(pd.Series([raw], dtype="str"), RUN_DATE)
    if expected is None:
        assert bad.iloc[0] and pd.isna(values.iloc[0])
    else:
        assert not bad.iloc[0] and values.iloc[0] == expected


def test_blank_id_is_not_bad_but_missing():
    values, bad = norm.id_numbers(pd.Series(["", "  "], dtype="str"), RUN_DATE)
    assert not bad.any() and values.isna().all()


@pytest.mark.parametrize("raw, expected", [
    ("2025-03-01", "2025-03-01"), ("2025/3/1", "2025-03-01"), ("2025.03.01", "2025-03-01"),
    ("20250301", "2025-03-01"), ("2025年3月1日", "2025-03-01"), ("2025-03-01 08:30:00", "2025-03-01"),
    ("2025/03/01 8:30", "2025-03-01"), ("2025-03-01T08:30:00", "2025-03-01"), ("２０２５-０３-０１", "2025-03-01"),
    ("2025-02-29", None), ("2025-13-01", None), ("2025-03", None), ("01/03/2025", None), ("2025-3/1", None),
    ("昨天", None),
])
def test_dates(raw, expected):
    values, bad = norm.dates(pd.Series([raw], dtype="str"))
    assert (values.iloc[0] if not bad.iloc[0] else None) == expected


@pytest.mark.parametrize("raw, cents", [
    ("1234.5", 123450), ("1,234.50", 123450), ("1,234,567", 123456700), ("１２３４", 123400), ("320元", 32000),
    (" 320 元", 32000), ("-12.3", -1230), ("12.345", 1235), ("12.344", 1234), ("0", 0),
    ("1,23", None), ("12,3456", None), ("1.2.3", None), ("abc", None), ("¥12", None),
])
def test_amounts(raw, cents):
    values, bad = norm.amounts(pd.Series([raw], dtype="str"))
    assert (None if bad.iloc[0] else int(values.iloc[0])) == cents


@pytest.mark.parametrize("raw, expected", [
    ("990101001001", "990101001001"), ("990101001", "990101001000"), ("990101", "990101000000"),
    ("99010100100", None), ("abc", None),
])
def test_division_codes_padded(raw, expected):
    values, bad = norm.division_codes(pd.Series([raw], dtype="str"))
    assert (None if bad.iloc[0] else values.iloc[0]) == expected


@pytest.mark.parametrize("raw, expected", [("在保", "正常参保"), (" 正常 ", "正常参保"), ("暂停参保", "暂停参保"),
                                           ("待审核", None)])
def test_enumerations_through_aliases(raw, expected, settings):
    values, bad = norm.enum_values(pd.Series([raw], dtype="str"), settings.value_aliases["enrollment_status"])
    assert (None if bad.iloc[0] else values.iloc[0]) == expected
