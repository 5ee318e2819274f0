"""Shared fixtures: a fresh database per test on SQLite and, when the test command started one, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.engine_config import spark_config_text
from monitor.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
PG_URL = os.environ.get("MONITOR_TEST_PG_URL")
# The audit key and checkpoints of the tests' databases live in a folder of this run, never in the project's data/
# (a test that checks them sets its own); the browser test's server inherits them.
_AUDIT = Path(tempfile.mkdtemp(prefix="monitor-audit-"))
os.environ.setdefault("MONITOR_AUDIT_KEY_FILE", str(_AUDIT / "audit.key"))
os.environ.setdefault("MONITOR_AUDIT_CHECKPOINT_FILE", str(_AUDIT / "audit_checkpoints.jsonl"))
os.environ.setdefault("MONITOR_AUDIT_SYSLOG", "")


@pytest.fixture(scope="session")
def settings():
    return load_settings(ROOT / "config.toml")


@pytest.fixture(scope="session")
def spark_config(tmp_path_factory) -> Path:
    """The shipped config.toml with [engine] kind = "spark", master = "local[2]". ./test.sh installs Java 17 and
    sets MONITOR_REQUIRE_SPARK, so a test using this fails rather than skips where the test command ran; elsewhere
    it skips without Java or pyspark. The process's Spark session starts on first use (about 7 s) and serves every
    later test."""
    import importlib.util

    missing = None
    if shutil.which("java") is None:
        missing = "no java (./test.sh installs Debian's openjdk-17-jre-headless)"
    elif importlib.util.find_spec("pyspark") is None:
        missing = "no pyspark (pip install -e '.[test]' brings it)"
    if missing:
        if os.environ.get("MONITOR_REQUIRE_SPARK") or os.environ.get("CI"):
            pytest.fail(f"the Spark tests are required here but cannot run: {missing}")
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("spark")
    path = folder / "spark.toml"
    path.write_text(spark_config_text((ROOT / "config.toml").read_text(encoding="utf-8"), folder), encoding="utf-8")
    return path


def _postgres_database():
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: MONITOR_TEST_PG_URL is not set (see test.sh)")
        pytest.skip("no PostgreSQL server (run ./test.sh to start one)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    return admin, name, url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, monkeypatch):
    """A URL of an empty database of each kind; PostgreSQL's lake is in the test's folder, not the project's data/
    (SQLite's is beside its file)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    monkeypatch.setenv("MONITOR_LAKE", str(tmp_path / "lake"))
    admin, name, url = _postgres_database()
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory, settings):
    """A small demo district as the README's first start builds it: two monthly loads and the previous year."""
    from monitor.demo.generate import generate
    from monitor.load.pipeline import run_load
    from monitor.storage.store import connect

    root = tmp_path_factory.mktemp("demo_db")
    generate(root / "2025-11", settings, persons=8000, seed=11, followup=root / "2025-12")
    url = f"sqlite:///{root / 'monitor.db'}"
    engine = connect(url)
    run_load(root / "2025-11", settings, engine)
    run_load(None, settings, engine, year=2024)
    run_load(root / "2025-12", settings, engine)
    engine.dispose()
    return url


def copy_demo_db(demo_db: str, folder: Path) -> str:
    """Copy the session's demo database, with its lake and the columnar copies folder beside it, into `folder`;
    returns the copy's URL."""
    source = Path(demo_db.removeprefix("sqlite:///"))
    own = folder / source.name
    shutil.copyfile(source, own)
    for beside in (".lake", ".copies"):  # monitor.storage.lake.folder, monitor.storage.table_copies.folder
        if source.with_name(source.name + beside).is_dir():
            shutil.copytree(source.with_name(source.name + beside), own.with_name(own.name + beside))
    return f"sqlite:///{own}"


def edit_lake_rows(engine, source: str, id_number: str, **values) -> None:
    """Set columns of a person's rows in a lake snapshot (a test's hostile or odd data), rewriting its one file and
    its record as a load would have written them."""
    from monitor.storage import lake, store

    frame = lake.read(engine, source)
    for column, value in values.items():
        frame.loc[frame["id_number"] == id_number, column] = value
    [path] = lake.paths(engine, source)
    run_id = int(path.stem.removeprefix("run-"))
    written = lake.write(engine, source, run_id, frame)
    with engine.begin() as conn:
        conn.execute(store.lake_files.delete().where(store.lake_files.c.path == written.path))
        lake.record(conn, [written])


@pytest.fixture
def own_demo_db(tmp_path, demo_db) -> str:
    """A URL of a private copy of the demo database, for a test that writes to it."""
    return copy_demo_db(demo_db, tmp_path)


@pytest.fixture(scope="module")
def module_demo_db(tmp_path_factory, demo_db) -> str:
    """A URL of a private copy of the demo database shared by one module's tests (the browser test's server)."""
    return copy_demo_db(demo_db, tmp_path_factory.mktemp("own_demo_db"))


def open_page(url: str, page: str | None, viewer, last_seen=None, **state):
    """AppTest of the app on a page (None: where app.py sends the viewer), signed in as `viewer` (None: nobody)
    with its session in the database, as the sign-in page leaves it; last_seen backdates the session's last click."""
    import dataclasses

    from streamlit.testing.v1 import AppTest

    from monitor.security import sessions
    from monitor.storage.store import connect

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if viewer is not None:
        if not viewer.second_factor:
            engine = connect(url)
            viewer = dataclasses.replace(viewer, session=sessions.start(engine, viewer.username, now=last_seen))
            engine.dispose()
        at.session_state["viewer"] = viewer
    for key, value in state.items():
        at.session_state[key] = value
    if page is not None:
        at.switch_page(f"pages/{page}")
    return at.run()
