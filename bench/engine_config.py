"""The shipped config.toml turned to another engine: the benchmark's `--engine spark` loads and the tests' Spark
deployment use the same text, so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path


def spark_config_text(text: str, data_dir: Path) -> str:
    """A config.toml's text with [engine] kind = "spark" on master local[2], its data folder (Spark's scratch
    files) in `data_dir`."""
    assert 'kind = "duckdb"' in text and 'master = "local[2]"' in text and 'data_dir = "data"' in text
    text = text.replace('kind = "duckdb"', 'kind = "spark"')
    return text.replace('data_dir = "data"', f'data_dir = "{data_dir.resolve().as_posix()}"')
