#!/usr/bin/env bash
# Sets up .venv in the project root; on first start generates and loads the demo district (or loads data/inbox
# when a bureau has put its own files there); then starts the scheduler and the app on 127.0.0.1:8501.
# Ctrl-C stops both. Files and folders it makes are the service user's only (umask 077: personal data).
set -euo pipefail
cd "$(dirname "$0")"
umask 077

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .

if [ ! -d data ]; then  # a checkout always has data/ (data/README.md): it was moved away, do not start afresh
  echo "错误: 数据文件夹 data/ 不存在（被移走了？）；请放回原处。确是全新安装时先建立它：mkdir data" >&2
  exit 1
fi
if [ ! -f data/monitor.db ]; then
  .venv/bin/python -m etl init   # the only place, with `etl init`, that creates the default database
  if [ -d data/inbox ] && [ -n "$(ls -A data/inbox 2>/dev/null)" ]; then
    echo "首次启动：载入 data/inbox 中的文件（载入后移到 data/archive/）"
    .venv/bin/python -m etl run --inbox data/inbox --archive
    .venv/bin/python -m etl users bootstrap
  else
    echo "首次启动：data/ 中没有数据，生成虚构的演示区县「青禾区」（5 万人）并载入"
    .venv/bin/python -m etl demo --out data/demo/2025-11 --followup data/demo/2025-12
    .venv/bin/python -m etl run --inbox data/demo/2025-11
    .venv/bin/python -m etl recompute --year 2024   # the previous year, for the overview's comparison
    .venv/bin/python -m etl run --inbox data/demo/2025-12
    .venv/bin/python -m etl users demo
    echo "演示数据已载入（文件在 data/demo/，说明见 docs/demo.md）"
  fi
fi

mkdir -p data/inbox
.venv/bin/python -m etl schedule >> data/scheduler.log 2>&1 &
scheduler=$!
# A background job of a script ignores Ctrl-C, so the scheduler is stopped (SIGTERM, clean shutdown) on exit.
trap 'kill "$scheduler" 2>/dev/null; wait "$scheduler" 2>/dev/null; echo "已停止"' EXIT
trap 'exit 0' INT TERM

echo "参保与防返贫监测看板: http://127.0.0.1:8501 （Ctrl-C 停止）"
if [ -d data/demo ]; then
  echo "演示账号：admin / Qinghe-Guanli-2025（系统管理员）  anquan / Qinghe-Baomi-2025（安全管理员）"
  echo "          shenji / Qinghe-Jiancha-2025（审计管理员）  lingdao / Qinghe-Juzhang-2025（领导）"
  echo "          kuomian / Qinghe-Canbao-2025（扩面专员）  jiuzhu / Qinghe-Bangfu-2025（救助专员）"
fi
echo "调度：每晚 02:00 及每分钟检查 data/inbox/ 中的新文件；日志 data/scheduler.log"
.venv/bin/python -m monitor.web.serve --server.headless true --server.address 127.0.0.1 \
  --server.port 8501 --browser.gatherUsageStats false
