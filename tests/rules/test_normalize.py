"""Each normaliser of SPEC §4 on its worked examples and edge cases."""

import random
from datetime import date

import pandas as pd
import pytest

from monitor.base import text
from monitor.rules import normalize as norm

RUN_DATE = date(2026, 11, 23)


@pytest.mark.parametrize(
    "raw, expected",
    [
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
    ],
)
def test_id_numbers(raw, expected):
    values, bad = norm.id_numbers(pd.Series([raw], dtype="str"), RUN_DATE)
    if expected is None:
        assert bad.iloc[0] and pd.isna(values.iloc[0])
    else:
        assert not bad.iloc[0] and values.iloc[0] == expected


def _spec_id(raw: str, run_date: date) -> str | None:
    """SPEC §4's ID rule for one value, written plainly from its text: the oracle of the vectorised one."""
    s = text.fold_width(raw).strip().upper()
    if len(s) == 15 and all(c in "0123456789" for c in s):
        s = s[:6] + "19" + s[6:]
    elif not (len(s) == 18 and all(c in "0123456789" for c in s[:17]) and s[17] in "0123456789X"):
        return None
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(s[:17], weights, strict=True)) % 11]
    if len(s) == 17:
        s += check
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None
    return s if s[17] == check and date(1900, 1, 1) <= born <= run_date else None


def test_id_numbers_agree_with_the_spec_read_plainly_on_random_numbers():
    rng = random.Random(20261202)
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    values = []
    for _ in range(20_000):
        year = rng.choice([1899, 1900, 1904, 2000, 2024, 2026, 2100])
        born = f"{year:04d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
        body = f"{rng.randrange(10**6):06d}{born}{rng.randrange(1000):03d}"
        value = body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
        match rng.randrange(8):
            case 0:
                value = value[:6] + value[8:17]  # legacy 15 digits
            case 1:
                value = value[:17] + rng.choice("0123456789Xx")  # another check character
            case 2:
                value = " " + value.replace("X", "x") + "\u3000"
            case 3:
                value = value[: rng.randrange(19)]
            case 4:
                value = "".join(chr(ord(c) + 0xFEE0) for c in value)  # full-width
            case 5:
                value = rng.choice(["", "abc", "1234567890123456789", "12345678901234567X", "٣" * 18])
        values.append(value)
    got, bad = norm.id_numbers(pd.Series(values, dtype="str"), RUN_DATE)
    expected = [_spec_id(v, RUN_DATE) for v in values]
    assert [None if pd.isna(g) else g for g in got] == expected
    assert bad.tolist() == [e is None and v.strip() != "" for v, e in zip(values, expected, strict=True)]
    assert 0 < sum(e is not None for e in expected) < len(values)


def test_blank_id_is_not_bad_but_missing():
    values, bad = norm.id_numbers(pd.Series(["", "  "], dtype="str"), RUN_DATE)
    assert not bad.any() and values.isna().all()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2025-03-01", "2025-03-01"),
        ("2025/3/1", "2025-03-01"),
        ("2025.03.01", "2025-03-01"),
        ("20250301", "2025-03-01"),
        ("2025年3月1日", "2025-03-01"),
        ("2025-03-01 08:30:00", "2025-03-01"),
        ("2025/03/01 8:30", "2025-03-01"),
        ("2025-03-01T08:30:00", "2025-03-01"),
        ("２０２５-０３-０１", "2025-03-01"),
        ("2025-02-29", None),
        ("2025-13-01", None),
        ("2025-03", None),
        ("01/03/2025", None),
        ("2025-3/1", None),
        ("昨天", None),
    ],
)
def test_dates(raw, expected):
    values, bad = norm.dates(pd.Series([raw], dtype="str"))
    assert (values.iloc[0] if not bad.iloc[0] else None) == expected


@pytest.mark.parametrize(
    "raw, cents",
    [
        ("1234.5", 123450),
        ("1,234.50", 123450),
        ("1,234,567", 123456700),
        ("１２３４", 123400),
        ("320元", 32000),
        (" 320 元", 32000),
        ("-12.3", -1230),
        ("12.345", 1235),
        ("12.344", 1234),
        ("0", 0),
        ("1,23", None),
        ("12,3456", None),
        ("1.2.3", None),
        ("abc", None),
        ("¥12", None),
    ],
)
def test_amounts(raw, cents):
    values, bad = norm.amounts(pd.Series([raw], dtype="str"))
    assert (None if bad.iloc[0] else int(values.iloc[0])) == cents


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("990101001001", "990101001001"),
        ("990101001", "990101001000"),
        ("990101", "990101000000"),
        ("99010100100", None),
        ("abc", None),
    ],
)
def test_division_codes_padded(raw, expected):
    values, bad = norm.division_codes(pd.Series([raw], dtype="str"))
    assert (None if bad.iloc[0] else values.iloc[0]) == expected


@pytest.mark.parametrize(
    "raw, expected", [("在保", "正常参保"), (" 正常 ", "正常参保"), ("暂停参保", "暂停参保"), ("待审核", None)]
)
def test_enumerations_through_aliases(raw, expected, settings):
    values, bad = norm.enum_values(pd.Series([raw], dtype="str"), settings.value_aliases["enrollment_status"])
    assert (None if bad.iloc[0] else values.iloc[0]) == expected


TEXTS = ["2025/1/5", "x", "", "2025年3月12日", "+1,234.5", "１２３", "  a b  ", "-0.01"]


@pytest.mark.parametrize(
    "pattern",
    [
        r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$",
        r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$",
        norm._AMOUNT,
    ],
)
def test_arrow_extract_matches_pandas(pattern):
    values = text.fold_series(pd.Series(TEXTS, index=range(10, 18), dtype="str"))  # as the normalisers do
    expected = values.str.extract(pattern)
    got = text.extract_groups(values, pattern)
    # pandas leaves a group that took no part missing, Arrow gives ''; callers treat both as ''
    pd.testing.assert_frame_equal(got.fillna(""), expected.fillna("").astype("str"), check_column_type=False)
    assert got.isna().all(axis=1).tolist() == expected.isna().all(axis=1).tolist()


def test_arrow_text_helpers_match_pandas():
    values = pd.Series(TEXTS, dtype="str")
    folded = text.fold_series(values)
    assert folded.tolist() == [text.fold_width(v).strip() for v in TEXTS]
    assert text.fold_series(pd.Series(["1 ", " 2"], dtype="str")).tolist() == ["1", "2"]
    numbers = pd.Series(["+12.5", "-0.01", "007", "1234567890123.99"], dtype="str")
    assert text.parse_floats(numbers).tolist() == pd.to_numeric(numbers).tolist()
    amounts = pd.Series([1, None, 3], dtype="Int64")
    joined = text.join_columns([values.head(3), amounts], "|")
    assert joined.tolist() == ["2025/1/5|1", "x|", "|3"]


@pytest.mark.parametrize("keys", [["b", "a", "c"], []])
def test_lookup_is_a_left_merge_on_unique_keys(keys):
    values = pd.Series(["a", "x", "c", "a", None], index=[5, 6, 7, 8, 9], dtype="str")
    table = pd.DataFrame(
        {"k": pd.Series(keys, dtype="str"), "day": pd.to_datetime(["2025-01-0" + str(i + 1) for i in range(len(keys))])}
    )
    merged = values.rename("k").to_frame().merge(table, on="k", how="left")
    got = text.lookup(values, table["k"], table["day"])
    assert got.index.tolist() == values.index.tolist()
    pd.testing.assert_series_equal(got.reset_index(drop=True), merged["day"], check_names=False)
    assert text.positions_in(values, table["k"]).tolist() == [
        keys.index(v) if v in keys else -1 for v in values.fillna("?")
    ]


_RANDOM_CODES = [None if i % 37 == 0 else f"S{(i * 7919) % 613:04d}" for i in range(1000)]


@pytest.mark.parametrize(
    "values",
    [
        ["a", "b", "a", "", "c", ""],
        ["x"],
        [],
        ["a", None, None, "b"],
        ["张三", "张三 "],
        [None, "a", None],
        ["b", "a", "b", "a"],
        _RANDOM_CODES,
    ],
)
def test_repeated_is_pandas_duplicated_keep_false(values):
    series = pd.Series(values, index=range(10, 10 + len(values)), dtype="str")
    pd.testing.assert_series_equal(text.repeated(series), series.duplicated(keep=False))
