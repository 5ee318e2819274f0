"""Alembic environment: the schema is monitor.storage.store.metadata; the URL comes from the caller's config."""

from alembic import context

from monitor.storage.store import metadata

config = context.config


def include_name(name, type_, parent_names) -> bool:
    """APScheduler keeps its jobs in a table of its own making; migrations leave it alone."""
    return not (type_ == "table" and name == "scheduler_jobs")


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
