#!/usr/bin/env bash
# netns_test.sh — smoke test of the test hosts (tests/cluster/hosts.sh): a
# coordinator in host A and a worker in host B, each in its own network
# namespace with its own files, run a sweep over TCP between their private
# addresses; the report equals a local sweep run in host C. The data reaches
# each host by `hosts.sh put` (same path in each), as bt does not ship data
# yet. Also checks that the hosts share no file. Where namespaces are not
# allowed: "SKIPPED: netns: why", exit 77.
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

# coordinator on host a, bound to its own address with an OS-chosen port
"$hosts" exec a bt sweep /tmp/data/sma.yaml --bind "tcp://$a:*" --insecure --workers 0 --out /tmp/out \
  >"$T/coord.log" 2>&1 &
coord=$!
wait_for 60 grep -q "listening on tcp://$a:" "$T/coord.log" ||
  { cat "$T/coord.log"; fail "the coordinator in host a did not start listening"; }
ep=$(sed -n "s|.*listening on \(tcp://$a:[0-9]*\).*|\1|p" "$T/coord.log" | head -n 1)
[ -n "$ep" ] || fail "no endpoint in the coordinator's log"

"$hosts" exec b bt-worker --connect "$ep" --threads 1 --name host-b --idle-exit 60 \
  >"$T/worker.log" 2>&1 || { cat "$T/worker.log"; fail "the worker in host b failed"; }
crc=0
wait "$coord" || crc=$?
coord=""
[ "$crc" -eq 0 ] || { cat "$T/coord.log"; fail "the coordinator in host a exited with $crc"; }
grep -q "worker host-b joined" "$T/coord.log" || { cat "$T/coord.log"; fail "host-b never joined"; }
grep -q "coordinator says bye" "$T/worker.log" || { cat "$T/worker.log"; fail "the worker did not finish"; }

same_report "$("$hosts" path c /tmp/ref)" "$("$hosts" path a /tmp/out)"
"$hosts" exec b test ! -e /tmp/out/results.csv || fail "host b sees host a's report"
echo "netns_test: PASS: worker in host b ran host a's sweep over $ep; report equals host c's local run"
