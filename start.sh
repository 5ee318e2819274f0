#!/usr/bin/env bash
# Sets up .venv in the project root, loads data/inbox into an empty database, and starts the app.
set -euo pipefail
cd "$(dirname "$0")"

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .

if [ ! -f data/monitor.db ] && [ -d data/inbox ] && [ -n "$(ls -A data/inbox 2>/dev/null)" ]; then
  echo "首次启动：载入 data/inbox 中的文件"
  .venv/bin/python -m etl run --inbox data/inbox
fi

echo "参保与防返贫监测看板: http://127.0.0.1:8501 （Ctrl-C 停止）"
exec .venv/bin/streamlit run app.py --server.headless true --server.address 127.0.0.1 \
  --server.port 8501 --browser.gatherUsageStats false
