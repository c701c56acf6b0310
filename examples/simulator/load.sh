#!/usr/bin/env bash
# Measures what the simulator sustains: it runs the simulator with a load
# (-traffic) for a while, with one consumer of every agent's events (ivctl
# events, over STOMP, as a partner's connector would be), and prints what
# the simulator says it did (calls/s, events/s, its CPU and peak memory)
# and how many events the consumer received.
#
#   bash examples/simulator/load.sh [LOAD] [DURATION]
#   bash examples/simulator/load.sh agents=5000,cps=400,talk=10s 30s
set -euo pipefail
cd "$(dirname "$0")/../.."
load=${1:-agents=2000,cps=50,talk=30s,answered=80,noanswer=10,busy=5,failed=3,giveup=2,outbound=25}
duration=${2:-30s}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/simulator" ./examples/simulator
go build -o "$tmp/ivctl" ./cmd/ivctl

"$tmp/simulator" -stomp 127.0.0.1:0 -soap 127.0.0.1:0 -control off -traffic "$load" -duration "$duration" >"$tmp/sim.out" 2>&1 &
sim=$!
for _ in $(seq 100); do grep -q '^running' "$tmp/sim.out" && break; sleep 0.1; done
addr=$(sed -n 's/^for the examples: export IV_STOMP_ADDR=\([^ ]*\).*/\1/p' "$tmp/sim.out")
[ -n "$addr" ] || { cat "$tmp/sim.out"; exit 1; }
"$tmp/ivctl" -stomp "$addr" events >"$tmp/events.jsonl" 2>"$tmp/ivctl.err" &
consumer=$!
wait "$sim"
sleep 1 # the last events in flight
kill "$consumer" 2>/dev/null || true
wait "$consumer" 2>/dev/null || true
grep -E '^(traffic|load|stopped)' "$tmp/sim.out"
echo "consumer (ivctl events): $(wc -l <"$tmp/events.jsonl") events received"
