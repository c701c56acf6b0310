#!/usr/bin/env bash
# Regenerates the measured part of BENCHMARKS.md: runs every benchmark of the
# project (each the SDK beside its raw baseline in the same run), summarises
# the ratios, and appends benchstat's report.
#
# Usage: scripts/bench.sh [-from FILE] [-out FILE] [count]   (count: default 6)
#   -from FILE  take the benchmark output from FILE (go test -bench's lines)
#               instead of running the benchmarks: only rewrites the file
#   -out FILE   the file to rewrite (default BENCHMARKS.md)
#   BENCHSTAT   the benchstat command (default benchstat, installed if missing)
#
# Only the part between the lines
#   <!-- bench.sh: generated, begin -->  and  <!-- bench.sh: generated, end -->
# is rewritten; what comes before or after them (the hand-written sections:
# the simulator's load, ivotel, whole calls, lanes and takeover) is kept as
# it is. A file without both lines, in that order, is refused, never
# overwritten; a missing file is made with the generated part alone.
#
# The RabbitMQ benchmarks (durable events, and the rabbitmq runs of the STOMP
# benchmarks beside go-stomp's server and ivtest's broker) need RabbitMQ:
# IV_RABBITMQ_ADDR (default 127.0.0.1:61613, scripts/rabbitmq.sh) must
# answer, or the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
from="" target=BENCHMARKS.md
while [ $# -gt 0 ]; do
  case $1 in
    -from) from=${2:?-from needs a file}; shift 2 ;;
    -out) target=${2:?-out needs a file}; shift 2 ;;
    -h|-help|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench.sh: unknown flag $1 (-from FILE, -out FILE, count)" >&2; exit 2 ;;
    *) break ;;
  esac
done
count=${1:-6}
begin='<!-- bench.sh: generated, begin -->'
end='<!-- bench.sh: generated, end -->'
if [ -e "$target" ]; then
  b=$(grep -nxF -- "$begin" "$target" | head -1 | cut -d: -f1 || true)
  e=$(grep -nxF -- "$end" "$target" | head -1 | cut -d: -f1 || true)
  if [ -z "$b" ] || [ -z "$e" ] || [ "$b" -ge "$e" ]; then
    echo "bench.sh: $target lacks the lines '$begin' and '$end', in that order, around its generated part: add them; nothing was changed" >&2
    exit 1
  fi
fi
pkgs="./events ./stompx ./soapx"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rabbit=${IV_RABBITMQ_ADDR:-127.0.0.1:61613}
# BenchmarkPairedSequential gets a fixed, longer run of its own: a
# RabbitMQ round trip is ~0.7 ms and its latency wanders, so the default
# one second (about 700 calls) gives ratios from 0.9 to 1.2 run to run;
# 4000 calls a side settle within a few percent.
cmd="IV_RABBITMQ_ADDR=$rabbit IV_REQUIRE_BROKER=1 go test -run '^\$' -bench . -skip '^BenchmarkPairedSequential\$' -benchmem -count $count $pkgs"
seqcmd="IV_RABBITMQ_ADDR=$rabbit IV_REQUIRE_BROKER=1 go test -run '^\$' -bench '^BenchmarkPairedSequential\$' -benchtime 4000x -benchmem -count $count ./stompx"
if [ -n "$from" ]; then
  cp -- "$from" "$out/bench.txt"
else
  if ! (exec 3<>"/dev/tcp/${rabbit%:*}/${rabbit##*:}") 2>/dev/null; then
    echo "no RabbitMQ at $rabbit (IV_RABBITMQ_ADDR) for BenchmarkPairedDurableEvents: run scripts/rabbitmq.sh start" >&2
    exit 1
  fi
  echo "running: $cmd" >&2
  eval "$cmd" | tee "$out/bench.txt" >&2
  echo "running: $seqcmd" >&2
  eval "$seqcmd" | grep '^Benchmark' | tee -a "$out/bench.txt" >&2
fi

benchstat=${BENCHSTAT:-benchstat}
if [ -z "${BENCHSTAT:-}" ] && ! command -v benchstat >/dev/null; then
  go install golang.org/x/perf/cmd/benchstat@latest >&2
  benchstat="$(go env GOPATH)/bin/benchstat"
fi

# Median ns/op and allocs/op per benchmark, then the SDK/raw pairs.
summary=$(awk '
  /^Benchmark/ {
    name=$1; sub(/-[0-9]+$/, "", name)
    for (i=2; i<=NF; i++) {
      if ($(i+1)=="ns/op") ns[name]=ns[name] " " $i
      if ($(i+1)=="allocs/op") al[name]=$i
      if ($(i+1)=="sdk/raw" || $(i+1)=="raw/soapx") pr[name]=pr[name] " " $i
      if ($(i+1) ~ /^(raw-events\/s|plain-events\/s|durable-events\/s|durable\/plain|durable\/raw)$/) dm[name, $(i+1)]=dm[name, $(i+1)] " " $i
    }
    if (index(name, "Durable")) dn[name]=1
  }
  function median(s,   a, n, i, j, t) {
    n=split(s, a, " ")
    for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (a[j]+0<a[i]+0) { t=a[i]; a[i]=a[j]; a[j]=t }
    return (n%2) ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2
  }
  END {
    printf "| benchmark | raw ns/op | SDK ns/op | SDK rate / raw rate | raw allocs/op | SDK allocs/op |\n|---|---|---|---|---|---|\n"
    for (name in ns) {
      n=split(name, p, "/"); side=p[n]
      if (side!="sdk" && side!="soapx") continue
      base=name; sub("/" side "$", "", base)
      raw=base "/raw"
      if (!(raw in ns)) continue
      r=median(ns[raw]); s=median(ns[name])
      printf "| %s | %.0f | %.0f | %.2f | %s | %s |\n", base, r, s, r/s, al[raw], al[name]
    }
    if (("BenchmarkDecode" in ns) && ("BenchmarkDecodeEncodingJSON" in ns)) {
      r=median(ns["BenchmarkDecodeEncodingJSON"]); s=median(ns["BenchmarkDecode"])
      printf "| BenchmarkDecode (vs encoding/json into a struct) | %.0f | %.0f | %.2f | %s | %s |\n", r, s, r/s, al["BenchmarkDecodeEncodingJSON"], al["BenchmarkDecode"]
    }
    for (name in pr) printf "PAIRED\t%s\t%.2f\n", name, median(pr[name])
    for (name in dn) printf "DURABLE\t| %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", name, median(dm[name, "raw-events/s"]), median(dm[name, "plain-events/s"]), median(dm[name, "durable-events/s"]), median(dm[name, "durable/plain"]), median(dm[name, "durable/raw"])
  }' "$out/bench.txt")
durable=$(printf '%s\n' "$summary" | awk -F'\t' '/^DURABLE/ {print $2}' | sort)
paired=$(printf '%s\n' "$summary" | awk -F'\t' '/^PAIRED/ {printf "| %s | %s |\n", $2, $3}' | sort)
summary=$(printf '%s\n' "$summary" | grep -v '^PAIRED' | grep -v '^DURABLE' | (read -r h1; read -r h2; echo "$h1"; echo "$h2"; sort))

{
  echo "$begin"
  cat <<EOF2
# Benchmarks

Every benchmark runs the SDK beside the same work done without it, in the same run on the same
broker: raw go-stomp with encoding/json and a \`map[id]chan\` for STOMP calls, a raw go-stomp
subscriber decoding into a struct for events, \`net/http\` with \`encoding/xml\` for SOAP, and
\`encoding/json\` into a struct for event decoding. "SDK rate / raw rate" is raw ns/op divided by SDK
ns/op (medians of $count runs): 1.00 means as fast as raw, above 1 faster. Nothing here is asserted by a
test; the numbers are measured, never timed in tests.

Regenerate with \`IV_RABBITMQ_ADDR=127.0.0.1:61613 scripts/bench.sh\`: it rewrites this part, up to the
sections measured by hand further down, which it keeps. Machine:

- $(uname -sm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB
- $(go version)
- $(date -u +%Y-%m-%d)
- commands: \`$cmd\`, then \`$seqcmd\`

## Summary

$summary

Paired benchmarks alternate the raw and the SDK exchange in short rounds inside one benchmark, so
that both see the same load on a shared machine; their ratio (SDK rate / raw rate, median of $count
runs) is the fairest figure:

| paired benchmark | SDK rate / raw rate |
|---|---|
$paired

Durable events on RabbitMQ (\`$rabbit\`), paired in one run: each round sends the same events to
a raw go-stomp durable subscription acking each message (\`raw\`), to a plain \`Subscribe\`
(\`plain\`, no acks) and to \`SubscribeDurable\` with \`Subscription.Ack\` after each event
(\`durable\`), one after the other (events/s and ratios, medians of $count runs):

| benchmark | raw events/s | plain events/s | durable events/s | durable / plain | durable / raw |
|---|---|---|---|---|---|
$durable

What the names mean:

- \`<benchmark>/<broker>\`: \`gostomp\` is go-stomp's own embedded server with a test responder,
  \`ivtest\` ivtest's broker and request processor, \`rabbitmq\` RabbitMQ (IV_RABBITMQ_ADDR) with
  ivtest's request processor attached to it on a request queue of its own. Raw and SDK share the
  broker and the responder in the same run; raw sends its requests on a second connection, as the
  SDK does.
- \`BenchmarkSequential/<broker>\`: one correlated call at a time (AgentLogin and its reply).
- \`BenchmarkInFlight128/<broker>\`: 128 calls in flight on one raw client or one Transport (SDK).
- \`BenchmarkPairedSequential\`, \`BenchmarkPairedInFlight128\`, \`BenchmarkPairedInFlight1024\`: one
  call at a time, 128 and 1,024 in flight, raw and SDK alternated in rounds.
- \`BenchmarkPairedEvents/<broker>\`: events/s from a raw publisher through one subscription to the
  consumer, raw (go-stomp, decoded into a struct) and SDK alternated in rounds of 1,000.
- \`BenchmarkEvents\`: events/s on ivtest's broker, raw then SDK (not alternated).
- \`BenchmarkPairedDurableEvents\` (RabbitMQ): durable events, acked one by one, against plain
  \`Subscribe\` and raw go-stomp with client-individual acks (the same queue headers and prefetch).
- \`BenchmarkCall\`, \`BenchmarkCallParallel\` (soapx): one SOAP call (AgentInfo) through soapx against
  the same POST built and parsed by hand; \`interleaved\` alternates the two in one loop and reports
  their ratio, which is the steadiest figure on a busy machine.
- \`BenchmarkDecode\`: one NEWCALL event body decoded by events.Decode against encoding/json into a
  6-field struct.

## benchstat

\`\`\`
$($benchstat "$out/bench.txt")
\`\`\`
EOF2
  echo "$end"
} > "$out/generated.md"
if [ -e "$target" ]; then
  { head -n $((b - 1)) "$target"; cat "$out/generated.md"; tail -n +$((e + 1)) "$target"; } > "$out/new.md"
else
  cp "$out/generated.md" "$out/new.md"
fi
cat "$out/new.md" > "$target"
echo "wrote $target (the part between the bench.sh lines; the rest kept)" >&2
