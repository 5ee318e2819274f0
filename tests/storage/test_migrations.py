"""Migrations: they create exactly the declared schema and refuse a database from before them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from monitor.storage import store
from monitor.storage.store import connect


def test_migrations_create_exactly_the_declared_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = connect(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    assert diff == []
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    newest = sorted(p.name[:4] for p in store.MIGRATIONS.joinpath("versions").glob("0*.py"))[-1]
    assert version == newest


def test_a_database_from_before_migrations_is_refused_with_advice(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    store.runs.create(old)
    with pytest.raises(store.SchemaError, match="迁移功能之前"):
        connect(url)
