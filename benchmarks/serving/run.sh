#!/usr/bin/env bash
# The serving load benchmark of docs/benchmarks.md ("Serving"): `litevision serve` under `bench --server`, against the
# in-process ONNX Runtime engine on the same core, timed in alternation within one run.
#   bash benchmarks/serving/run.sh
# Environment: MODEL (mobilenet_v3_small), ROUNDS (3), ROUND_SECONDS (20), WARMUP_SECONDS (40), CONCURRENCY (64),
# BASELINE_SECONDS (5), PORT (8123). Results: a markdown table on stdout and in benchmarks/serving/results/latest.md.
#
# Set-up on a machine of N >= 2 CPUs: the server (one ONNX Runtime thread) on CPU N-1, the load generator on the others.
# Before and after each round, while the server is idle, the in-process engine (`bench model.onnx`, one thread) is timed
# on the server's CPU at the batch size the server formed (its mean, from /metrics), and the round is compared with the
# mean of the two, so both sides get the same core at nearly the same time: on a shared VM whose speed drifts between
# minutes, a baseline timed once is not comparable. Then a server with dynamic batching off (--max-batch 1) gets a
# warm-up and one round, bracketed by the engine at batch 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-mobilenet_v3_small}; ROUNDS=${ROUNDS:-3}; SECONDS_PER_ROUND=${ROUND_SECONDS:-20}; CONCURRENCY=${CONCURRENCY:-64}
BASELINE_SECONDS=${BASELINE_SECONDS:-5}; PORT=${PORT:-8123}; WARMUP_SECONDS=${WARMUP_SECONDS:-40}
OUT=benchmarks/serving/results; mkdir -p "$OUT"
for tool in jq taskset curl; do command -v $tool >/dev/null || { echo "benchmarks/serving/run.sh needs $tool" >&2; exit 2; }; done
CPUS=$(nproc)
if [ "$CPUS" -lt 2 ]; then echo "benchmarks/serving/run.sh needs at least 2 CPUs (server and load generator on separate ones)" >&2; exit 2; fi
SERVER_CPU=$((CPUS - 1)); LOAD_CPUS=0-$((CPUS - 2))
dotnet build src/LiteVision.Cli -c Release -v q >/dev/null
CLI=src/LiteVision.Cli/bin/Release/net10.0/LiteVision.Cli.dll
REPO=$(mktemp -d /tmp/litevision-serving-XXXX)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$REPO"; }
trap cleanup EXIT
dotnet "$CLI" export "$MODEL" --triton "$REPO" >/dev/null
ONNX=$REPO/$MODEL/1/model.onnx

start_server() {   # PORT [serve options...]
  local port=$1; shift
  taskset -c "$SERVER_CPU" dotnet "$CLI" serve "$REPO" --port "$port" --threads 1 "$@" > "$OUT/serve-$port.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || break   # it ended (the port in use, say): do not measure another server
    curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && return; sleep 0.2
  done
  echo "the server did not become ready: $(cat "$OUT/serve-$port.log")" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
load() {   # PORT SECONDS -> the ServerLoadReport JSON
  taskset -c "$LOAD_CPUS" dotnet "$CLI" bench "$MODEL" --server "http://127.0.0.1:$1" --concurrency "$CONCURRENCY" --seconds "$2" --format json
}
in_process() {   # BATCH -> images/s of the engine on the server's CPU, one thread
  taskset -c "$SERVER_CPU" dotnet "$CLI" bench "$ONNX" --batch "$1" --seconds "$BASELINE_SECONDS" --threads 1 --format json | jq '.results[0].imagesPerSecond'
}
row() {   # LABEL REPORT BASELINE BATCH
  jq -r --arg name "$1" --argjson baseline "$3" --arg batch "$4" '
    "| \($name) | \(.load.throughput * 10 | round / 10) | \(.load.p50 * 10 | round / 10) | \(.load.p99 * 10 | round / 10) | \(.load.errors) | "
    + "\(.meanBatchSize * 10 | round / 10) | \(.imagesPerServerCpuSecond * 10 | round / 10) | \(.serverResidentBytes / 1048576 | round) MB | "
    + "\(.serverManagedHeapBytes / 1048576 | round) MB | \($baseline * 10 | round / 10) at \($batch) | **\(.load.throughput / $baseline * 1000 | round / 1000)** |"' <<< "$2"
}
nearest_run_size() {   # MEAN MAX -> the batch size the server runs nearest the mean: 1-8, multiples of 8, the maximum
  jq -n --argjson mean "$1" --argjson max "$2" 'if $mean <= 8 then ($mean | round) else ([($mean / 8 | round) * 8, $max] | min) end'
}

exec > >(tee "$OUT/latest.md")   # in this shell, so the exit trap sees the server's PID
echo "$MODEL, $CONCURRENCY clients, rounds of $SECONDS_PER_ROUND s after a $WARMUP_SECONDS s warm-up; server on CPU $SERVER_CPU, load generator on CPU $LOAD_CPUS; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | images/s | p50 ms | p99 ms | errors | mean batch | images per server CPU-s | server RSS | GC heap | in-process images/s at batch | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
start_server "$PORT"
# Warm-up: ONNX Runtime's memory plans, Kestrel's buffers, and the JIT, whose tier-up competes with ONNX Runtime for the
# one core (perf: the JIT had 2 % of the server's samples 12-20 s into a load, none 42-50 s in).
report=$(load "$PORT" "$WARMUP_SECONDS")
batch=$(nearest_run_size "$(jq '.meanBatchSize' <<< "$report")" 32)
before=$(in_process "$batch")
first_rss=; on_sum=0
for round in $(seq "$ROUNDS"); do
  # The baseline brackets the round: the engine timed right before it and right after it, at the batch size formed.
  report=$(load "$PORT" "$SECONDS_PER_ROUND")
  batch=$(nearest_run_size "$(jq '.meanBatchSize' <<< "$report")" 32)
  after=$(in_process "$batch")
  row "batching on, $round" "$report" "$(jq -n "($before + $after) / 2")" "$batch"
  before=$after
  rss=$(jq '.serverResidentBytes' <<< "$report"); first_rss=${first_rss:-$rss}; last_rss=$rss
  on_sum=$(jq -n "$on_sum + $(jq '.load.throughput' <<< "$report")")
done
stop_server
start_server $((PORT + 1)) --max-batch 1
load $((PORT + 1)) $((SECONDS_PER_ROUND / 2)) > /dev/null
before=$(in_process 1)
report=$(load $((PORT + 1)) "$SECONDS_PER_ROUND")
row "batching off" "$report" "$(jq -n "($before + $(in_process 1)) / 2")" 1
stop_server
echo
jq -rn "\"Resident memory after round $ROUNDS vs round 1: \(($last_rss / $first_rss - 1) * 1000 | round / 10) %; batching on vs off: \(($on_sum / $ROUNDS) / $(jq '.load.throughput' <<< "$report") * 100 | round / 100)x\""
