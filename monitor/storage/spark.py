"""Spark as the engine of the engine-neutral rules ([engine] kind = "spark", issue 21): the process's one session and
the Ibis connections over it.

Imported only when Spark is configured (monitor.storage.sets.backend), so a DuckDB deployment never loads pyspark.
A session takes about 7 s to start (a JVM), so the first connection starts it and every later one reuses it; a
connection's disconnect() drops the tables it registered and leaves the session running, where Ibis' would stop it
for every other user. Tables go in and results come out as Arrow columns (Spark 4 takes and gives Arrow tables), not
through pandas as Ibis does it: no float detour for integers with missing values, no Python object per cell.

Session settings, for a bureau's intranet: no web UI; for a local master, the driver listens on loopback only;
scratch files (shuffles, the Arrow files of tables handed in, which hold ID numbers) stay in the service's data
folder; nothing is fetched (no spark.jars.packages). Spark's session time zone is Asia/Shanghai, though the rules
only compare ISO date text.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis import util
from ibis.backends import BaseBackend
from ibis.backends.pyspark import Backend as PySparkBackend
from ibis.formats.pyarrow import PyArrowData
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from monitor.config import Settings, data_path

TIME_ZONE = "Asia/Shanghai"

_lock = threading.Lock()
_session: SparkSession | None = None
_master = ""


def local_cores(master: str) -> int | None:
    """The cores of a local master (local, local[N], local[*], local[N,F]); None for a cluster."""
    if master == "local":
        return 1
    found = re.fullmatch(r"local\[(\d+|\*)(?:,\s*\d+)?\]", master)
    if not found:
        return None
    return (os.cpu_count() or 1) if found.group(1) == "*" else int(found.group(1))


def session_conf(master: str, scratch: Path) -> dict[str, str]:
    """The Spark settings of the process's session."""
    conf = {
        "spark.app.name": "coverage-monitor",
        "spark.ui.enabled": "false",  # no web server on a bureau's machines
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": TIME_ZONE,
        "spark.local.dir": str(scratch),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),  # else spark-warehouse/ in the working folder
        "spark.sql.catalogImplementation": "in-memory",  # no Hive metastore (metastore_db/ in the working folder)
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.mapKeyDedupPolicy": "LAST_WIN",  # what Ibis sets on connecting (SharedSessionBackend.do_connect)
    }
    cores = local_cores(master)
    if cores is not None:
        # Spark's 200 shuffle partitions are hundreds of tiny tasks on one machine; a few per core keep both busy
        conf["spark.sql.shuffle.partitions"] = str(2 * cores)
        # executors run in this process: nothing needs to reach the driver from another machine
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    return conf


def session(settings: Settings) -> SparkSession:
    """The process's Spark session, started on first use with the configured master and reused after. A process
    serves one deployment, so one master: asking for another is a programming error, not a reason to restart the
    session under the connections of other threads."""
    global _session, _master
    master = settings.engine_master
    with _lock:
        if _session is None:
            # the executors' Python: this one, unless the deployment names another (a cluster's workers)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            scratch = data_path(settings) / "spark"
            scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
            builder = SparkSession.builder.master(master)
            for key, value in session_conf(master, scratch).items():
                builder = builder.config(key, value)
            _session, _master = builder.getOrCreate(), master
            _session.sparkContext.setLogLevel("ERROR")  # Spark's warnings would flood a load's log
        elif master != _master:
            raise ValueError(f"engine.master {master!r}: this process's Spark session runs on {_master!r}")
        return _session


Task = TypeVar("Task")
Result = TypeVar("Result")


def run_tasks(settings: Settings, work: Callable[[Task], Result], tasks: list[Task]) -> list[Result]:
    """`work` on each task on the executors, a task each (a file's byte range, `monitor.load.spread`), the results in
    the tasks' order. The function and the tasks go to the executors pickled, the results come back pickled: they
    must be small (counts, file records): they pass through the driver's JVM, so rows stay in files."""
    if not tasks:
        return []
    return session(settings).sparkContext.parallelize(tasks, len(tasks)).map(work).collect()


class SharedSessionBackend(PySparkBackend):
    """Ibis' PySpark backend over the shared session: tables in and results out as Arrow, and a disconnect() that
    drops this connection's temporary views instead of stopping the session."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._views: list[str] = []
        self._kept: list[DataFrame] = []

    def _register_in_memory_table(self, op: ops.InMemoryTable) -> None:
        # Ibis' own goes through pandas (for Spark before 4), which turns a column's missing integers into floats
        frame = self._session.createDataFrame(op.data.to_pyarrow(op.schema))
        frame.createOrReplaceTempView(op.name)
        self._views.append(op.name)

    def read_parquet(
        self, path: str | Path | list[str], /, *, table_name: str | None = None, **kwargs: Any
    ) -> ir.Table:
        """Parquet files (a path, or a list of them: a lake source's files) as one table; Ibis' takes one path."""
        paths = [str(p) for p in path] if isinstance(path, list) else [str(path)]
        name = table_name or util.gen_name("read_parquet")
        self._session.read.parquet(*paths, **kwargs).createOrReplaceTempView(name)
        self._views.append(name)
        return self.table(name)

    def to_pyarrow(
        self,
        expr: ir.Expr,
        /,
        *,
        params: Any = None,
        limit: int | str | None = None,
        **kwargs: Any,
    ) -> pa.Table:
        """The result as Spark's Arrow columns in the expression's types (Ibis' goes through pandas)."""
        self._run_pre_execute_hooks(expr)
        table_expr = expr.as_table()
        sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
        arrow = self._session.sql(sql).toArrow()
        return expr.__pyarrow_result__(PyArrowData.convert_table(arrow, table_expr.schema()))

    def create_table(
        self,
        name: str,
        /,
        obj: Any = None,
        *,
        schema: Any = None,
        database: str | None = None,
        temp: bool | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> ir.Table:
        """A temporary table (temp=True; Ibis' PySpark has none): the expression's rows kept by Spark (memory, else
        its scratch disk) once computed, as a view of this connection under a name of its own, since other
        connections share the session. Anything else as Ibis does it."""
        if not temp or obj is None:
            return super().create_table(
                name, obj, schema=schema, database=database, temp=temp, overwrite=overwrite, **kwargs
            )
        expr = obj if isinstance(obj, ir.Table) else ibis.memtable(obj)
        self._run_pre_execute_hooks(expr)
        rows = self._session.sql(self.compile(expr)).persist(StorageLevel.MEMORY_AND_DISK)
        # computed here, once: persist() is lazy, and the branches of a later query that reads the rows several
        # times (the counts of each level) would each compute the ones not yet kept
        rows.count()
        view = util.gen_name(name)
        rows.createOrReplaceTempView(view)
        self._views.append(view)
        self._kept.append(rows)
        return self.table(view)

    def do_connect(self, session: SparkSession | None = None, mode: str = "batch", **kwargs: Any) -> None:
        """Use the shared session as it is. Ibis' sets the session's time zone to UTC and back on every connect,
        which a query running on another thread would see; the session was built with what the rules need."""
        assert session is not None and mode == "batch" and not kwargs
        self._mode = mode
        self._session = session

    def disconnect(self) -> None:
        """Drop the views of this connection's tables and the rows it kept (the session would otherwise hold every
        frame handed in, a load after a load) and leave the session to the others."""
        try:
            for name in self._views:
                # each goes on its own: one that fails (a JVM that died) must neither keep the others nor hide the
                # error that ended the caller's work, in whose finally this runs
                with contextlib.suppress(Exception):
                    self._session.catalog.dropTempView(name)
            for rows in self._kept:
                with contextlib.suppress(Exception):
                    rows.unpersist()
        finally:
            self._views.clear()
            self._kept.clear()
            self._memtables.clear()  # registered no more: a later use of the same memtable registers it again


# Ibis registers a backend's options (ibis.options.pyspark, read by its compiler) when it loads the backend by name,
# which a subclass bypasses
SharedSessionBackend.register_options()


def connect(settings: Settings) -> BaseBackend:
    """A new connection to the shared session; it changes none of the session's settings."""
    return SharedSessionBackend().connect(session(settings))
