#!/usr/bin/env bash
# bench_fetch.sh — a dataset shipped to a fresh worker over the real FETCH path
# (run by scripts/bench, never by ctest): `bt sweep --workers 0` on loopback
# and one `bt-worker` with an empty --cache and no --data. Prints the transfer
# rate (worker log: "fetching data" to "files for the sweep ready") and the
# time from the worker's start to its first result in the journal, and the
# CPU time both processes spent until the worker had its files.
# Target: >= 300 MB/s for 1 GiB.
#
# usage: tests/bench/bench_fetch.sh [MIB (default 1024)] [BIN_DIR (default build)]
set -euo pipefail
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,10p' "$0"
  exit 0
fi
mib=${1:-1024}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${2:-$root/build}
T=$(mktemp -d /tmp/bt-bench-fetch-XXXXXX)
coord=""
cleanup() {
  if [ -n "$coord" ]; then kill "$coord" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
export BT_VERIFY_CACHE="$T/verified" # cold: no stamp from an earlier run
bars=$((mib * 1048576 / 48)) # 6 float64/int64 fields per bar
"$bin/bt" data synth --out "$T/s.h5" --symbols 1 --bars "$bars" --freq 1m --seed 5 >/dev/null
cat >"$T/s.yaml" <<YAML
strategy: sma_cross
data:
  store: $T/s.h5
sweep:
  params.fast: [5, 10]
  params.slow: [50]
YAML
"$bin/bt" sweep "$T/s.yaml" --out "$T/out" --workers 0 --bind 'tcp://127.0.0.1:*' >"$T/coord.log" 2>&1 &
coord=$!
ep=""
for _ in $(seq 1 3000); do
  ep=$(sed -n 's/.*listening on \(tcp:[^ ]*\).*/\1/p' "$T/coord.log" | head -n 1)
  [ -n "$ep" ] && break
  sleep 0.1
done
[ -n "$ep" ] || { cat "$T/coord.log"; echo "bench_fetch: the coordinator did not start" >&2; exit 1; }
t0=$(date +%s.%N)
"$bin/bt-worker" --connect "$ep" --threads 1 --cache "$T/cache" --name bench --idle-exit 600 \
  >"$T/worker.log" 2>&1 &
wpid=$!
journal="$T/out/journal.btj"
j0=$(stat -c %s "$journal" 2>/dev/null || echo 0)
first=""
wcpu="" # the worker's CPU seconds (user+sys, all threads) when its files are ready
cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat" 2>/dev/null || true; }
ccpu0=$(cpu "$coord")
ccpu=""
while kill -0 "$coord" 2>/dev/null; do
  if [ -z "$wcpu" ] && grep -q "files for the sweep ready" "$T/worker.log"; then
    wcpu=$(cpu "$wpid")
    ccpu=$(cpu "$coord")
  fi
  if [ -z "$first" ] && [ "$(stat -c %s "$journal" 2>/dev/null || echo 0)" -gt "$j0" ]; then
    first=$(date +%s.%N)
  fi
  sleep 0.05
done
wait "$coord" || true
coord=""
[ -n "$first" ] || first=$(date +%s.%N)
ts() { sed -n "s/^\([0-9:.]*\) .*$1.*/\1/p" "$T/worker.log" | head -n 1; }
secs() { awk -F: '{print $1 * 3600 + $2 * 60 + $3}' <<<"$1"; }
a=$(ts "fetching data")
b=$(ts "files for the sweep ready")
[ -n "$a" ] && [ -n "$b" ] || { cat "$T/worker.log"; echo "bench_fetch: no fetch in the worker's log" >&2; exit 1; }
bytes=$(sed -n 's/.*ready: \([0-9]*\) byte(s) fetched.*/\1/p' "$T/worker.log" | head -n 1)
dt=$(awk -v a="$(secs "$a")" -v b="$(secs "$b")" 'BEGIN { print b - a }')
awk -v n="$bytes" -v dt="$dt" -v t0="$t0" -v t1="$first" -v wcpu="$wcpu" -v ccpu="${ccpu:-0}" \
  -v ccpu0="${ccpu0:-0}" 'BEGIN {
  printf "%-40s %8.3f s  %8.1f MB/s  %.1f MB\n", "fetch to a fresh worker (real FETCH)", dt, n / dt / 1e6, n / 1e6
  printf "%-40s %8.3f s\n", "time to first result, fresh worker", t1 - t0
  if (wcpu != "") printf "%-40s %8.2f s worker, %.2f s coordinator\n", "CPU (user+sys) until the files are ready", wcpu, ccpu - ccpu0
  printf "target: >= 300 MB/s: %s\n", (n / dt >= 300e6 ? "met" : "MISSED") }'
