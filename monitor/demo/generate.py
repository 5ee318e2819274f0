"""Write the demo district as load folders: a main load and, optionally, the next month's follow-up load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from monitor.config import Settings
from monitor.demo import defects, files, geography, medical, people

CHUNK_PERSONS = 200_000  # settlements are generated and written for this many persons at a time
Progress = Callable[[str], None]


@dataclass
class DemoReport:
    """What was written: files, row counts, and the rows the ETL must reject (file label, row, reason, column)."""

    folders: list[Path]
    rows: dict[str, int] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "row", "reason", "column"]))
    warnings: dict[str, int] = field(default_factory=dict)

    def expect(self, label: str, found: pd.DataFrame, first_data_row: int = 2) -> None:
        rows = found.assign(file=label, row=found["position"] + first_data_row).drop(columns="position")
        self.rejects = pd.concat([self.rejects, rows], ignore_index=True)


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8", append: bool = False) -> None:
    if encoding != "utf-8":
        frame.to_csv(path, index=False, encoding=encoding)
        return
    table = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
    with open(path, "ab" if append else "wb") as sink:
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=not append, quoting_style="needed"))


def _write_identities(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    with pd.ExcelWriter(path, engine="xlsxwriter", date_format="yyyy-mm-dd", datetime_format="yyyy-mm-dd") as writer:
        writer.book.set_properties({"created": datetime(2025, 1, 1)})  # same seed, same bytes
        for name, frame in sheets.items():
            headers = files.SHEETS[name]
            frame.rename(columns=headers).to_excel(writer, sheet_name=name, index=False)


def _write_boundaries(geo: pd.DataFrame, path: Path) -> None:
    frame = gpd.GeoDataFrame(geo[["code", "name", "level"]], geometry=list(geo["geometry"]), crs="EPSG:4326")
    frame.to_file(path, driver="GeoJSON")


def _altered(
    frame: pd.DataFrame,
    column: str,
    finding: str,
    rng: np.random.Generator,
    report: DemoReport,
    change: Callable[[pd.Series], pd.Series],
) -> np.ndarray:
    """Alter a few rows so that a data-quality finding (not a rejection) appears; returns the rows still free for
    deliberate bad rows, so the two never meet."""
    rows = rng.choice(len(frame), size=defects.per_defect(len(frame)), replace=False)
    frame.loc[rows, column] = change(frame.loc[rows, column]).to_numpy()
    report.warnings[finding] = len(rows)
    eligible = np.ones(len(frame), dtype=bool)
    eligible[rows] = False
    return eligible


def _eligible_settlements(frame: pd.DataFrame) -> np.ndarray:
    """Ordinary rows that no reversal names: spoiling them cannot orphan another row."""
    named = set(frame["原结算流水号"])
    return ((frame["原结算流水号"] == "") & ~frame["结算流水号"].isin(named)).to_numpy()


def _medical_persons(
    residents: pd.DataFrame,
    enrolled: pd.DataFrame,
    primary: pd.DataFrame,
    migrants: pd.DataFrame,
    year: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Who settles bills: enrolled residents and migrants, plus a few persons with no enrollment."""
    scheme = (
        enrolled[(enrolled["year"] == year) & (enrolled["status"] == "正常参保")]
        .drop_duplicates("id_number")
        .set_index("id_number")["scheme"]
    )
    everyone = pd.concat(
        [residents[["id_number", "name", "age"]], migrants[["id_number", "name", "age"]]], ignore_index=True
    )
    everyone["scheme"] = everyone["id_number"].map(scheme).fillna("")
    alive = ~everyone["id_number"].isin(residents.loc[residents["death_date"].notna(), "id_number"])
    uninsured_bills = (everyone["scheme"] == "") & (rng.random(len(everyone)) < 0.01)
    chosen = everyone[alive & ((everyone["scheme"] != "") | uninsured_bills)].reset_index(drop=True)
    classes = primary.set_index("id_number")["assistance_class"]
    cls = chosen["id_number"].map(classes)
    chosen["vulnerable"] = chosen["id_number"].isin(primary["id_number"]).to_numpy()
    chosen["assist_rate"] = cls.map(people.ASSIST_RATE).fillna(0.0).to_numpy()
    return chosen


def _primary(records: pd.DataFrame, settings: Settings, year: int) -> pd.DataFrame:
    from monitor.rules.identities import primary_identities

    frame = records.assign(start_date=files._iso(records["start_date"]), end_date=files._iso(records["end_date"]))
    as_of = settings.resolve_as_of(year, None)
    return primary_identities(frame, as_of, settings.identity_types_for(year))


def generate(
    out: Path,
    settings: Settings,
    *,
    persons: int = 50_000,
    seed: int = 1,
    year: int | None = None,
    followup: Path | None = None,
    progress: Progress = lambda _m: None,
) -> DemoReport:
    """Generate the demo district into `out` (and the next month's load into `followup`)."""
    year = year or settings.year
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    report = DemoReport([out] + ([followup] if followup else []))
    stamp = f"{year}-11"

    progress("区划与边界")
    geo = geography.build(rng)
    div_frame, found = defects.inject(files.divisions(geo), "divisions", rng, year)
    _write_csv(div_frame, out / "divisions_青禾区.csv")
    report.expect("divisions_青禾区.csv", found)
    _write_boundaries(geo, out / "boundaries_青禾区.geojson")
    report.rows["divisions"] = len(div_frame)

    progress("人口底册、死亡名单")
    residents = people.residents(rng, geo, persons, year)
    pop_frame = files.population(residents)
    eligible = _altered(
        pop_frame,
        "出生日期",
        "BIRTH_MISMATCH",
        rng,
        report,  # a birth date one day off the ID's
        lambda v: (pd.to_datetime(v) + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d"),
    )
    pop_frame, found = defects.inject(pop_frame, "population", rng, year, eligible)
    _write_csv(pop_frame, out / f"population_{stamp}.csv", "gb18030")
    report.expect(f"population_{stamp}.csv", found)
    death_frame, found = defects.inject(files.deaths(residents), "deaths", rng, year)
    _write_csv(death_frame, out / f"deaths_{stamp}.csv", "gb18030")
    report.expect(f"deaths_{stamp}.csv", found)
    report.rows.update(population=len(pop_frame), deaths=len(death_frame))
    del pop_frame, death_frame  # written: a city's register is gigabytes in memory (15 M persons)

    progress("困难群众身份")
    records = people.identities(rng, residents, year)
    unregistered = people.migrants(rng, max(2, persons // 1000), year)
    unregistered["id_number"] = people.id_numbers(
        np.full(len(unregistered), 990105), unregistered["birth"], unregistered["male"].to_numpy()
    )
    extra = unregistered.assign(
        identity_type="低保对象",
        department="民政",
        household_id="",
        income=5000,
        start_date=pd.Timestamp(year=year - 1, month=5, day=1),
        end_date=pd.NaT,
    )
    records = pd.concat([records, extra[records.columns]], ignore_index=True)
    primary = _primary(records, settings, year)
    sheets = files.identity_sheets(records)
    for column in ("认定日期", "退出日期"):
        sheets["民政"][column] = sheets["民政"][column].astype(object).where(sheets["民政"][column].notna(), None)
    sheets["民政"], found = defects.inject(sheets["民政"], "identities", rng, year)
    identities_file = f"identities_{stamp}.xlsx"
    _write_identities(sheets, out / identities_file)
    report.expect(f"{identities_file}:民政", found)
    report.rows["identities"] = sum(len(s) for s in sheets.values())

    progress("参保登记")
    subsidy = primary.set_index("id_number")["subsidy"]
    propensity = people.village_propensity(rng, geo)
    enrolled = people.enrollment(rng, residents, propensity, subsidy, year)
    movers = people.migrants(rng, max(5, persons // 80), year)
    enrolled_migrants = movers[["id_number", "name"]].assign(
        scheme=np.where(rng.random(len(movers)) < 0.6, "职工", "居民"),
        insured_place="",
        year=year,
        status="正常参保",
        subsidy="none",
        paid_date=pd.NaT,
    )
    enrolled = pd.concat([enrolled, enrolled_migrants[enrolled.columns]], ignore_index=True)
    enroll_frame = files.enrollment(enrolled)
    eligible = _altered(enroll_frame, "姓名", "NAME_MISMATCH", rng, report, lambda v: v.str[:1] + "某某")
    enroll_frame, found = defects.inject(enroll_frame, "enrollment", rng, year, eligible)
    _write_csv(enroll_frame, out / f"enrollment_{stamp}.csv", "utf-8-sig")
    report.expect(f"enrollment_{stamp}.csv", found)
    report.rows["enrollment"] = len(enroll_frame)
    del enroll_frame

    progress("就医结算")
    patients = _medical_persons(residents, enrolled, primary, movers, year, rng)
    del enrolled, movers, primary
    main_days = (pd.Timestamp(year=year, month=12, day=1) - pd.Timestamp(year=year, month=1, day=1)).days
    serial, kept = _write_settlements(
        rng,
        patients,
        out / f"settlements_{year}-01_{stamp[-2:]}.csv",
        pd.Timestamp(year=year, month=1, day=1),
        main_days,
        1,
        year,
        report,
    )
    if followup:
        progress("下月增量：身份更新与 12 月结算")
        followup.mkdir(parents=True, exist_ok=True)
        _write_followup(rng, followup, settings, year, records, residents, patients, kept, serial, report)
    return report


def _write_settlements(
    rng: np.random.Generator,
    patients: pd.DataFrame,
    path: Path,
    start: pd.Timestamp,
    days: int,
    serial: int,
    year: int,
    report: DemoReport,
    earlier: pd.DataFrame | None = None,
) -> tuple[int, pd.DataFrame]:
    """Settlements chunk by chunk; the first chunk carries the defects. Returns the next serial and a sample of
    ordinary rows a later load may reverse."""
    latest = start + pd.Timedelta(days=days - 1)
    samples, total = [], 0
    for first in range(0, len(patients), CHUNK_PERSONS):
        chunk = medical.settlements(rng, patients.iloc[first : first + CHUNK_PERSONS], start, days, serial, year)
        serial += len(chunk)
        undo = medical.reversals(rng, chunk, 0.008, serial, year, latest)
        serial += len(undo)
        if first == 0 and earlier is not None and not earlier.empty:
            late = medical.reversals(rng, earlier, 1.0, serial, year, latest)
            late["settle_date"] = start + pd.to_timedelta(rng.integers(0, days, len(late)), unit="D")
            serial += len(late)
            undo = pd.concat([undo, late], ignore_index=True)
        frame = files.settlements(pd.concat([chunk, undo], ignore_index=True))
        spoiled: set[str] = set()
        if first == 0:
            frame, found = defects.inject(frame, "settlements", rng, year, _eligible_settlements(frame))
            report.expect(path.name, found)
            spoiled = set(chunk["settlement_id"].iloc[found["position"][found["position"] < len(chunk)]])
        untouched = ~chunk["settlement_id"].isin(set(undo["reverses"]) | spoiled)
        samples.append(chunk[untouched].sample(frac=0.002, random_state=rng))
        _write_csv(frame, path, append=first > 0)
        total += len(frame)
    report.rows[path.name] = total
    return serial, pd.concat(samples, ignore_index=True)


def _write_followup(
    rng: np.random.Generator,
    folder: Path,
    settings: Settings,
    year: int,
    records: pd.DataFrame,
    residents: pd.DataFrame,
    patients: pd.DataFrame,
    kept: pd.DataFrame,
    serial: int,
    report: DemoReport,
) -> None:
    """December: new, changed and ended identities; the month's settlements; reversals of earlier bills."""
    december = pd.Timestamp(year=year, month=12, day=1)
    updated = records.copy()
    active = updated["end_date"].isna() & (updated["start_date"] <= december)
    ended = active & (rng.random(len(updated)) < 0.01)
    updated.loc[ended, "end_date"] = december + pd.Timedelta(days=14)
    watched = updated[active & (updated["identity_type"] == "防止返贫监测对象")]
    upgraded = watched[rng.random(len(watched)) < 0.1].assign(
        identity_type="低保对象", department="民政", start_date=december + pd.Timedelta(days=5)
    )
    newcomers = residents[~residents["id_number"].isin(updated["id_number"])].sample(
        n=max(1, len(residents) // 400), random_state=rng
    )
    added = newcomers[["id_number", "name", "household_id"]].assign(
        identity_type="防止返贫监测对象",
        department="乡村振兴",
        income=6000,
        start_date=december + pd.Timedelta(days=9),
        end_date=pd.NaT,
    )
    updated = pd.concat([updated, upgraded, added[updated.columns]], ignore_index=True)
    _write_identities(files.identity_sheets(updated), folder / f"identities_{year}-12.xlsx")
    report.rows["identities_followup"] = len(updated)
    _write_settlements(
        rng, patients, folder / f"settlements_{year}-12.csv", december, 31, serial, year, report, earlier=kept
    )
