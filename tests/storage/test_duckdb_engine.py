"""The DuckDB engine of a deployment: it holds at most [engine] memory_mb and spills the rest to a folder of its own,
the service's only, that goes with the connection; a rule that needs more than the limit still completes."""

from __future__ import annotations

import dataclasses
import gc
import stat

from monitor.storage import sets


def _spill_folders(data_dir):
    return sorted((data_dir / "duckdb").glob("rules-*"))


def test_the_limit_and_the_spill_folder_are_the_settings(settings, tmp_path):
    chosen = dataclasses.replace(settings, data_dir=str(tmp_path), engine_memory_mb=300)
    con = sets.backend(chosen)
    try:
        limit = con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        spill = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
        assert limit in ("300.0 MiB", "314.5 MB")  # DuckDB shows the limit in its own units
        (folder,) = _spill_folders(tmp_path)
        assert spill == str(folder)
        for private in (tmp_path / "duckdb", folder):
            assert stat.S_IMODE(private.stat().st_mode) == 0o700  # the spilled rows hold ID numbers
    finally:
        con.disconnect()
    del con
    gc.collect()
    assert _spill_folders(tmp_path) == []


def test_a_rule_larger_than_the_limit_spills_and_completes(settings, tmp_path):
    chosen = dataclasses.replace(settings, data_dir=str(tmp_path), engine_memory_mb=256)
    con = sets.backend(chosen)
    try:
        # 6 M distinct 18-character keys grouped: some 0.4 GB of hash table, more than the limit; without a folder
        # to spill to, DuckDB stops with an out-of-memory error
        persons, total = con.raw_sql(
            "SELECT count(*), sum(total) FROM (SELECT id_number, sum(cents) AS total FROM "
            "(SELECT lpad(CAST(i AS VARCHAR), 18, '0') AS id_number, i % 7 AS cents FROM range(6000000) t(i)) "
            "GROUP BY id_number)"
        ).fetchone()
        assert (persons, total) == (6_000_000, sum(i % 7 for i in range(6_000_000)))
    finally:
        con.disconnect()


def test_without_settings_duckdb_stays_in_memory():
    con = sets.backend(None)
    try:
        assert con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0] == ""
    finally:
        con.disconnect()
