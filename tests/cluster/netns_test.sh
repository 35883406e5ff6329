#!/usr/bin/env bash
# netns_test.sh — the test hosts (tests/cluster/hosts.sh) as a cluster: a
# coordinator in host A and a worker in host B, each in its own network
# namespace with its own files, run a sweep over TCP between their private
# addresses, authenticated and encrypted with CurveZMQ keys made by
# `bt keygen` (no --insecure); the report equals a local sweep run in host C.
#   1. a plain run;
#   2. a partition: host B's link is taken down (ip link set ... down) while
#      it holds leases, for longer than the lease, then up again: nothing is
#      lost, the report is the same, and the worker is counted once.
# Also checks that the hosts share no file. Where namespaces are not allowed:
# "SKIPPED: netns: why", exit 77.
set -euo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

hosts_up netns
cat "$T/up.log"

make_demo "$T"
sed "s|store: $T/demo.h5|store: /tmp/data/demo.h5|" "$T/sma.yaml" >"$T/host.yaml"
for h in a b c; do
  "$hosts" put "$h" "$T/demo.h5" /tmp/data/demo.h5
  "$hosts" put "$h" "$T/host.yaml" /tmp/data/sma.yaml
done

# keys: the coordinator's folder on A (its pair + the worker's public key in
# allow/), the worker's on B (its pair + the coordinator's public key)
"$bin/bt" keygen "$T/ck" --name coordinator >/dev/null
"$bin/bt" keygen "$T/wk" >/dev/null
cp "$T/wk/worker.key" "$T/ck/allow/host-b.key"
cp "$T/ck/coordinator.key" "$T/wk/coordinator.key"
"$hosts" put a "$T/ck" /tmp/keys
"$hosts" put b "$T/wk" /tmp/keys
"$hosts" exec a test ! -e /tmp/keys/worker.key_secret || fail "host a has the worker's secret"
"$hosts" exec b test ! -e /tmp/keys/coordinator.key_secret || fail "host b has the coordinator's secret"

# no shared files: the project is empty in a host, and one host's /tmp is
# not another's
"$hosts" exec b test ! -e "$root/README.md" || fail "host b sees the project folder"
"$hosts" exec a touch /tmp/only-on-a
"$hosts" exec b test ! -e /tmp/only-on-a || fail "host b sees a file of host a"
# the copied programs run there
"$hosts" exec b bt-worker --help >/dev/null || fail "bt-worker does not run in host b"

# reference: a plain local sweep inside host c
"$hosts" exec c bt sweep /tmp/data/sma.yaml --out /tmp/ref --workers 1 >"$T/ref.log" 2>&1 ||
  { cat "$T/ref.log"; fail "the local sweep in host c failed"; }

# start_coord OUT LOG [ARGS...]: coordinator on host a, bound to its own
# address with an OS-chosen port and the keys; sets coord and ep
start_coord() {
  local out=$1 log=$2
  shift 2
  "$hosts" exec a bt sweep /tmp/data/sma.yaml --bind "tcp://$a:*" --keys /tmp/keys --workers 0 \
    --out "$out" "$@" >"$log" 2>&1 &
  coord=$!
  wait_for 60 grep -q "listening on tcp://$a:" "$log" ||
    { cat "$log"; fail "the coordinator in host a did not start listening"; }
  ep=$(sed -n "s|.*listening on \(tcp://$a:[0-9]*\).*|\1|p" "$log" | head -n 1)
  [ -n "$ep" ] || fail "no endpoint in the coordinator's log"
  grep -q "CurveZMQ on: 1 worker key(s) allowed" "$log" || { cat "$log"; fail "CURVE is not on"; }
}

# wait_coord LOG: the coordinator exits 0
wait_coord() {
  local crc=0
  wait "$coord" || crc=$?
  coord=""
  [ "$crc" -eq 0 ] || { cat "$1"; fail "the coordinator in host a exited with $crc"; }
}

# 1. a plain run
start_coord /tmp/out "$T/coord.log"
"$hosts" exec b bt-worker --connect "$ep" --keys /tmp/keys --threads 1 --name host-b --idle-exit 60 \
  >"$T/worker.log" 2>&1 || { cat "$T/worker.log"; fail "the worker in host b failed"; }
wait_coord "$T/coord.log"
grep -q "worker host-b joined" "$T/coord.log" || { cat "$T/coord.log"; fail "host-b never joined"; }
grep -q "coordinator says bye" "$T/worker.log" || { cat "$T/worker.log"; fail "the worker did not finish"; }
same_report "$("$hosts" path c /tmp/ref)" "$("$hosts" path a /tmp/out)"
"$hosts" exec b test ! -e /tmp/out/results.csv || fail "host b sees host a's report"

# 2. a partition longer than the lease (1 s); the worker gives a coordinator
# up after 3 silent leases, so the link comes back before that. Each job
# takes 300 ms here (24 jobs), so the worker holds leases when it is cut off.
start_coord /tmp/out2 "$T/coord2.log" --lease-ms 1000 --heartbeat-ms 100
"$hosts" exec b bt-worker --connect "$ep" --keys /tmp/keys --threads 1 --name host-b --idle-exit 60 \
  --debug-job-ms 300 >"$T/worker2.log" 2>&1 &
wpid=$!
journal=$("$hosts" path a /tmp/out2)/journal.btj
wait_for 60 grep -q "worker host-b joined" "$T/coord2.log" ||
  { cat "$T/coord2.log"; fail "host-b never joined the second sweep"; }
# cut off once some results are journaled (the journal grows past its header)
wait_for 30 test -s "$journal" || fail "no journal in host a"
j0=$(stat -c %s "$journal")
wait_for 60 bash -c "[ \$(stat -c %s '$journal') -gt $j0 ]" ||
  { cat "$T/coord2.log"; fail "no result reached the journal before the partition"; }
"$hosts" link b down
# down until the coordinator has given the leases up (longer than the lease)
wait_for 30 grep -qE "silent for [0-9]+ ms|expired lease" "$T/coord2.log" ||
  { "$hosts" link b up; cat "$T/coord2.log"; fail "the coordinator never noticed the partition"; }
"$hosts" link b up
wrc=0
wait "$wpid" || wrc=$?
[ "$wrc" -eq 0 ] || { cat "$T/worker2.log"; fail "the partitioned worker exited with $wrc"; }
wait_coord "$T/coord2.log"
same_report "$("$hosts" path c /tmp/ref)" "$("$hosts" path a /tmp/out2)"
seen=$(sed -n 's/^workers seen: *//p' "$("$hosts" path a /tmp/out2)/summary.txt")
[ "$seen" = 1 ] || { cat "$T/coord2.log"; fail "the partitioned worker was counted '$seen' times, not once"; }
echo "netns_test: PASS: worker in host b ran host a's sweep over $ep with CurveZMQ keys;" \
  "a partition (link down) longer than the lease lost nothing and counted it once;" \
  "reports equal host c's local run"
