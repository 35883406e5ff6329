#!/usr/bin/env bash
# bench_report.sh — report.html of a 1,000,000-bar `bt run` in headless Chromium
# (run by scripts/bench, never by ctest): the page's size, and how long after
# navigation start its script has drawn every chart (the `ms` its verdict
# records, performance.now()), median of 5 loads, each in a fresh profile.
# Also checks each load drew every canvas with no script error.
# Target (issue 11): a few MB at most, drawn in under 2 s.
#
# usage: tests/bench/bench_report.sh [BIN_DIR (default build)]
set -euo pipefail
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,9p' "$0"
  exit 0
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build}
chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  echo "bench_report: SKIPPED: $chromium is missing (apt-get install chromium)"
  exit 0
fi
T=$(mktemp -d /tmp/bt-bench-report-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$bin/bt" data synth --out "$T/bars.h5" --symbols 1 --bars 1000000 --freq 1m --seed 3 >/dev/null
cat >"$T/run.yaml" <<YAML
strategy: sma_cross
params: {fast: 10, slow: 30}
data: {store: $T/bars.h5, symbols: all}
execution: {commission_pct: 0.1}
YAML
"$bin/bt" run "$T/run.yaml" --out "$T/out" >/dev/null
page="$T/out/report.html"
bytes=$(stat -c %s "$page")
ms=()
for i in 1 2 3 4 5; do
  prof=$(mktemp -d "$T/prof-XXXXXX")
  dom=$("$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-extensions --proxy-server=127.0.0.1:9 --user-data-dir="$prof" \
    --dump-dom "file://$page" 2>/dev/null)
  v=$(printf '%s' "$dom" | sed -n 's/.*<pre id="bt-verdict"[^>]*>\([^<]*\)<\/pre>.*/\1/p' |
    sed 's/&quot;/"/g')
  if [ -z "$v" ]; then
    echo "bench_report: load $i: no verdict in the page (its script did not finish)" >&2
    exit 1
  fi
  read -r m canv blank errs < <(/usr/bin/python3 -c '
import json, sys
v = json.loads(sys.argv[1])
print(v["ms"], v["canvases"], len(v["blank"]), len(v["errors"]))' "$v")
  if [ "$blank" != 0 ] || [ "$errs" != 0 ]; then
    echo "bench_report: load $i: $blank blank canvas(es), $errs script error(s): $v" >&2
    exit 1
  fi
  ms+=("$m")
done
med=$(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p)
echo "bench_report: report.html of a 1,000,000-bar bt run: $((bytes / 1024)) KiB, $canv canvases;" \
  "drawn ${med} ms after navigation start (median of 5 loads: ${ms[*]})"
if [ "$med" -lt 2000 ] && [ "$bytes" -lt $((4 * 1048576)) ]; then
  echo "target: under a few MB and drawn in under 2 s: met"
else
  echo "target: under a few MB and drawn in under 2 s: missed"
fi
