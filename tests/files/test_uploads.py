"""Uploads: safe file names, refused types and sizes, generated names in the original order."""

from __future__ import annotations

import dataclasses

import pytest

from monitor.files.uploads import UploadError, safe_name, save_uploads


@pytest.mark.parametrize(
    "name, expected",
    [
        ("population_2025.csv", "population_2025.csv"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\enrollment.xlsx", "enrollment.xlsx"),
        ("a<b>:c.csv", "a_b__c.csv"),
    ],
)
def test_safe_name_keeps_only_the_file_name(name, expected):
    assert safe_name(name) == expected


def test_save_uploads_refuses_a_wrong_type_or_size_and_writes_nothing(tmp_path, settings):
    with pytest.raises(UploadError, match="evil.exe"):
        save_uploads([("population.csv", b"x"), ("evil.exe", b"x")], tmp_path, settings)
    with pytest.raises(UploadError, match="来源前缀"):
        save_uploads([("名单.csv", b"x")], tmp_path, settings)
    small = dataclasses.replace(settings, upload_max_mb=1)
    with pytest.raises(UploadError, match="1 MB"):
        save_uploads([("settlements.csv", b"x" * (1024 * 1024 + 1))], tmp_path, small)
    assert list(tmp_path.iterdir()) == []


def test_uploads_are_stored_under_generated_names_in_the_original_order(tmp_path, settings):
    folder = save_uploads(
        [("settlements_b.csv", b"b"), ("../population.csv", b"p"), ("settlements_a.csv", b"a")], tmp_path, settings
    )
    stored = sorted(p.name for p in folder.iterdir() if p.suffix == ".csv")
    assert [name.split("_")[0] for name in stored] == ["population", "settlements", "settlements"]
    assert [(folder / name).read_bytes() for name in stored] == [b"p", b"a", b"b"]
    listing = (folder / "原始文件名.txt").read_text(encoding="utf-8")
    assert "population.csv" in listing and "settlements_a.csv" in listing
