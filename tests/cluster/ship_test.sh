#!/usr/bin/env bash
# ship_test.sh — what a worker on another host may open (tests/cluster/hosts.sh):
# the coordinator in host A serves its store /tmp/data/demo.h5 by hash; host B
# never gets a copy of it (no `put`).
#   1. a worker in B given --data with other bars (made in B) exits 1 naming
#      both data hashes;
#   2. a worker in B with an empty --cache and no --data fetches the store
#      from the coordinator (FETCH/CHUNK) and runs the sweep: the report
#      equals a local run in host C.
# Where namespaces are not allowed: "SKIPPED: netns: why", exit 77.
set -euo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

hosts_up ship

make_demo "$T"
"$bin/bt" data synth --out "$T/other.h5" --symbols 4 --bars 2520 --seed 43 >/dev/null
sed "s|store: $T/demo.h5|store: /tmp/data/demo.h5|" "$T/sma.yaml" >"$T/host.yaml"
for h in a c; do
  "$hosts" put "$h" "$T/demo.h5" /tmp/data/demo.h5
  "$hosts" put "$h" "$T/host.yaml" /tmp/data/sma.yaml
done
"$hosts" exec b mkdir -p /tmp/elsewhere
"$hosts" exec b bt data synth --out /tmp/elsewhere/other.h5 --symbols 4 --bars 2520 --seed 43 \
  >/dev/null
"$hosts" exec b test ! -e /tmp/data/demo.h5 || fail "host b has the coordinator's store path"

"$hosts" exec c bt sweep /tmp/data/sma.yaml --out /tmp/ref --workers 1 >"$T/ref.log" 2>&1 ||
  { cat "$T/ref.log"; fail "the local sweep in host c failed"; }

"$hosts" exec a bt sweep /tmp/data/sma.yaml --bind "tcp://$a:*" --insecure --workers 0 --out /tmp/out \
  >"$T/coord.log" 2>&1 &
coord=$!
wait_for 60 grep -q "listening on tcp://$a:" "$T/coord.log" ||
  { cat "$T/coord.log"; fail "the coordinator in host a did not start listening"; }
ep=$(sed -n "s|.*listening on \(tcp://$a:[0-9]*\).*|\1|p" "$T/coord.log" | head -n 1)

# 1. other bars
wrc=0
"$hosts" exec b bt-worker --connect "$ep" --threads 1 --name b-other --idle-exit 60 \
  --data /tmp/elsewhere/other.h5 >"$T/other.log" 2>&1 || wrc=$?
[ "$wrc" -eq 1 ] || { cat "$T/other.log"; fail "a worker with other bars exited $wrc, not 1"; }
want=$("$bin/bt" data info "$T/demo.h5" | sed -n 's/^data hash: //p')
got=$("$bin/bt" data info "$T/other.h5" | sed -n 's/^data hash: //p')
grep -q "$want" "$T/other.log" && grep -q "$got" "$T/other.log" ||
  { cat "$T/other.log"; fail "the refusal does not name both data hashes"; }

# 2. no store, no --data: fetched by hash into an empty cache
"$hosts" exec b bt-worker --connect "$ep" --threads 1 --name b-fetch --idle-exit 60 \
  --cache /tmp/wcache >"$T/worker.log" 2>&1 ||
  { cat "$T/worker.log"; fail "the worker without the store failed"; }
grep -q "fetching data" "$T/worker.log" ||
  { cat "$T/worker.log"; fail "the worker did not fetch the store"; }
"$hosts" exec b test ! -e /tmp/data/demo.h5 || fail "host b has the coordinator's store path"
crc=0
wait "$coord" || crc=$?
coord=""
[ "$crc" -eq 0 ] || { cat "$T/coord.log"; fail "the coordinator in host a exited with $crc"; }
same_report "$("$hosts" path c /tmp/ref)" "$("$hosts" path a /tmp/out)"
echo "ship_test: PASS: other bars named by hash; host b without the store fetched it by hash" \
  "and gave host c's report"
