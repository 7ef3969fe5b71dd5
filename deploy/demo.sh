#!/usr/bin/env bash
# `make demo`: a collector on SQLite (./portacare.db) and an agent on this host pushing to it.
# Prints where to look and a NOC token; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8470}
DEMO=portacare-demo
BIN=.venv/bin
mkdir -p "$DEMO/state"
chmod 700 "$DEMO"
export PORTACARE_DATABASE_URL="sqlite:///$PWD/portacare.db"

HOST=$($BIN/python -c 'from portacare.agent.config import this_host; print(this_host())')
$BIN/portacare-collector migrate >/dev/null
if [ ! -s "$DEMO/agent.token" ]; then
  (umask 077; $BIN/portacare-collector token create --host "$HOST" --customer demo > "$DEMO/agent.token")
fi
if [ ! -s "$DEMO/noc.token" ]; then
  (umask 077; $BIN/portacare-collector token create --role noc --name demo > "$DEMO/noc.token")
fi
sed -e "s|@COLLECTOR@|http://127.0.0.1:$PORT|" -e "s|@DEMO@|$PWD/$DEMO|g" \
  deploy/demo-agent.toml.in > "$DEMO/agent.toml"

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping the demo agent and collector"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

$BIN/portacare-collector serve --port "$PORT" > "$DEMO/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  $BIN/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1)" \
    2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$DEMO/collector.log"; exit 1; }
  sleep 0.2
done
$BIN/portacare-agent run --config "$DEMO/agent.toml" > "$DEMO/agent.log" 2>&1 &
pids+=($!)

NOC=$(cat "$DEMO/noc.token")
cat <<INFO

PortaCare demo is running: collector on http://127.0.0.1:$PORT, agent for host $HOST.
  Dashboard   http://127.0.0.1:$PORT/   (sign in with the NOC token)
  API docs    http://127.0.0.1:$PORT/docs
  NOC token   $NOC
Try:
  curl -H "Authorization: Bearer $NOC" http://127.0.0.1:$PORT/api/v1/hosts
  curl -H "Authorization: Bearer $NOC" http://127.0.0.1:$PORT/api/v1/tickets
Logs: $DEMO/collector.log, $DEMO/agent.log    Agent status: $BIN/portacare-agent status --config $DEMO/agent.toml
Press Ctrl-C to stop.
INFO
wait "${pids[@]}"
