#!/usr/bin/env bash
# Installs everything the tests need (Python packages, Chromium, LibreOffice, Java 17, a PostgreSQL server) and runs
# the whole suite.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]"

# Debian's Chromium and CJK fonts for the real-browser test (Playwright drives /usr/bin/chromium; no download).
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) || true
  fi
fi
if [ -x /usr/bin/chromium ]; then
  export MONITOR_REQUIRE_BROWSER=1
fi

# LibreOffice (headless Calc) and poppler's pdftotext: the papers people print are printed to PDF and measured.
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui poppler-utils >/dev/null) || true
  fi
fi

# Debian's Java 17 for Spark 4 in local mode: the engine-neutral rules are checked on Spark too (tests/storage).
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) || true
  fi
fi
if command -v java >/dev/null 2>&1; then
  export MONITOR_REQUIRE_SPARK=1
fi

# A real PostgreSQL server on loopback for the storage tests (Debian's package; started here, stopped never).
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
  fi
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
  if [ -n "$version" ]; then
    pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
    su postgres -c "psql -q -c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='monitor_test') THEN CREATE ROLE monitor_test LOGIN SUPERUSER PASSWORD 'monitor_test'; END IF; END \\\$\\\$;\"" >/dev/null
    port=$(su postgres -c "psql -tAq -c 'SHOW port'")
    export MONITOR_TEST_PG_URL="postgresql+psycopg://monitor_test:monitor_test@127.0.0.1:${port}/postgres"
  fi
fi

# The structure is enforced, not hoped for: layer contracts, lint, format and types (configured in pyproject.toml).
.venv/bin/lint-imports
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

exec .venv/bin/python -m pytest "$@"
