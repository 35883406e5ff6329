#!/usr/bin/env bash
# ssh_test.sh — scripts/ssh-sweep and scripts/ssh-workers end to end against
# Debian's sshd started here on a private loopback port, with a temporary
# host key and a temporary authorized key (nothing in ~/.ssh is read or
# changed). Two workers (two host-file lines) run a sweep of
# configs/sma_cross.yaml whose results.csv and ranking.csv must equal a
# local sweep's byte for byte; then `ssh-workers stop` must end workers that
# are still trying to connect. Where sshd cannot start: "SKIPPED: ssh: why",
# exit 77.
set -euo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

sshd=/usr/sbin/sshd
[ -x "$sshd" ] || skip ssh "$sshd is not installed (scripts/setup installs openssh-server)"
for c in ssh ssh-keygen ss; do
  command -v "$c" >/dev/null || skip ssh "$c is not installed (openssh-client, iproute2)"
done
if [ ! -x "$bin/bt" ] || [ ! -x "$bin/bt-worker" ]; then fail "no bt/bt-worker in $bin; build first"; fi

T=$(mktemp -d /tmp/bt-ssh-XXXXXX)
sshd_pid=""
cleanup() {
  local f
  # workers a failed run may have left: only pids recorded by ssh-workers
  for f in "$T"/*.state "$T"/*/ssh-workers.state; do
    [ -f "$f" ] || continue
    cut -f3 "$f" | while read -r pid; do kill "$pid" 2>/dev/null || true; done
  done
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; fi
  if [ "${BT_KEEP_TMP:-0}" = 1 ]; then echo "ssh_test: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

user=$(id -un)
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key" -C bt-test-host
ssh-keygen -q -t ed25519 -N '' -f "$T/user_key" -C bt-test-user
cp "$T/user_key.pub" "$T/authorized_keys"
port=$(free_port)
cat >"$T/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $user
UsePAM no
StrictModes no
LogLevel VERBOSE
EOF
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
cat >"$T/ssh_config" <<EOF
Host *
  IdentityFile $T/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $T/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
EOF
# sshd wants its privilege-separation folder (Debian's service creates it).
[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
"$sshd" -t -f "$T/sshd_config" 2>"$T/sshd.log" || { cat "$T/sshd.log"; skip ssh "sshd rejects the test configuration"; }
"$sshd" -D -e -f "$T/sshd_config" 2>>"$T/sshd.log" &
sshd_pid=$!
wait_for 20 ssh -F "$T/ssh_config" -p "$port" "$user@127.0.0.1" true ||
  { tail -n 20 "$T/sshd.log"; skip ssh "sshd on 127.0.0.1:$port does not let us log in"; }
echo "ssh_test: sshd up on 127.0.0.1:$port"

make_demo "$T"
"$bin/bt" sweep "$T/sma.yaml" --out "$T/local" --workers 2 >"$T/local.log" 2>&1 ||
  { cat "$T/local.log"; fail "local bt sweep failed"; }

printf '# two workers on one sshd\n%s@127.0.0.1:%s\n\n%s@127.0.0.1:%s\n' \
  "$user" "$port" "$user" "$port" >"$T/hosts.txt"
coord_port=$(free_port)
rc=0
timeout 600 "$root/scripts/ssh-sweep" "$T/hosts.txt" "$T/sma.yaml" --out "$T/ssh" \
  --host 127.0.0.1 --port "$coord_port" --bind "tcp://127.0.0.1:$coord_port" --threads 1 \
  --bin "$bin" --remote-dir "$T/remote" --ssh-config "$T/ssh_config" >"$T/ssh-sweep.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$T/ssh-sweep.log"
  tail -n 20 "$T"/remote/worker-*.log "$T/sshd.log" 2>/dev/null || true
  fail "ssh-sweep exited with $rc"
fi
same_report "$T/local" "$T/ssh"
[ ! -e "$T/ssh/ssh-workers.state" ] || fail "ssh-sweep left its worker record behind"
# every worker ssh-sweep started is gone (BYE, or its stop); a worker that
# joined late may have found the sweep already over, so the joins are not counted
started=$(sed -n 's/.*: bt-worker pid \([0-9]*\),.*/\1/p' "$T/ssh-sweep.log")
[ "$(echo "$started" | wc -w)" -eq 2 ] || { cat "$T/ssh-sweep.log"; fail "expected 2 workers started"; }
for pid in $started; do
  if kill -0 "$pid" 2>/dev/null; then fail "bt-worker $pid still runs after ssh-sweep"; fi
done
grep -q "coordinator says bye" "$T"/remote/worker-*.log ||
  { tail -n 5 "$T"/remote/worker-*.log; fail "no worker ran the sweep to its end"; }
echo "ssh_test: ssh-sweep with 2 workers over ssh: report equals the local sweep's, workers gone"

# stop: workers with no coordinator keep retrying until stop ends them
nobody=$(free_port)
"$root/scripts/ssh-workers" start "$T/hosts.txt" --connect "tcp://127.0.0.1:$nobody" \
  --remote-dir "$T/remote2" --state "$T/idle.state" --ssh-config "$T/ssh_config" >"$T/start.log"
[ "$(wc -l <"$T/idle.state")" -eq 2 ] || { cat "$T/start.log"; fail "expected 2 recorded workers"; }
pids=$(cut -f3 "$T/idle.state")
for pid in $pids; do
  [ "$(ps -p "$pid" -o comm= || true)" = bt-worker ] || fail "recorded pid $pid is not a running bt-worker"
done
# a second start with the record still there is refused
if "$root/scripts/ssh-workers" start "$T/hosts.txt" --connect "tcp://127.0.0.1:$nobody" \
  --state "$T/idle.state" --ssh-config "$T/ssh_config" >/dev/null 2>&1; then
  fail "a second start over an existing record was accepted"
fi
"$root/scripts/ssh-workers" stop "$T/hosts.txt" --state "$T/idle.state" --ssh-config "$T/ssh_config" >"$T/stop.log"
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "bt-worker $pid still runs after stop"; fi
done
[ ! -e "$T/idle.state" ] || fail "stop left the record behind"
grep -c ": stopped" "$T/stop.log" | grep -qx 2 || { cat "$T/stop.log"; fail "stop did not report 2 stopped"; }
# --keys: the worker pair and the coordinator's public key reach each host,
# 0600, and the coordinator's secret never does
keys="$T/keys"
"$bin/bt" keygen "$keys" --name coordinator >/dev/null
"$bin/bt" keygen "$keys" >/dev/null
cp "$keys/worker.key" "$keys/allow/worker.key"
"$root/scripts/ssh-workers" start "$T/hosts.txt" --connect "tcp://127.0.0.1:$nobody" --keys "$keys" \
  --remote-dir "$T/remote3" --state "$T/keys.state" --ssh-config "$T/ssh_config" >"$T/start3.log" 2>&1 || true
for f in worker.key worker.key_secret coordinator.key; do
  [ "$(stat -c %a "$T/remote3/keys/$f" 2>/dev/null)" = 600 ] ||
    { cat "$T/start3.log"; fail "remote keys/$f missing or not mode 600"; }
  cmp -s "$keys/$f" "$T/remote3/keys/$f" || fail "remote keys/$f differs from $keys/$f"
done
[ ! -e "$T/remote3/keys/coordinator.key_secret" ] || fail "the coordinator's secret was copied"
[ "$(wc -l <"$T/keys.state")" -eq 2 ] || { cat "$T/start3.log"; fail "expected 2 recorded workers"; }
"$root/scripts/ssh-workers" stop "$T/hosts.txt" --state "$T/keys.state" --ssh-config "$T/ssh_config" >/dev/null
echo "ssh_test: ssh-workers --keys copied the worker pair and coordinator.key (0600), no coordinator secret"

# The whole keyed path, once bt has --keys (issue 9 wiring): CURVE over ssh.
help=$("$bin/bt" sweep --help 2>&1 || true)
if [[ "$help" == *--keys* ]]; then
  kport=$(free_port)
  timeout 600 "$root/scripts/ssh-sweep" "$T/hosts.txt" "$T/sma.yaml" --out "$T/ssh-keys" \
    --host 127.0.0.1 --port "$kport" --bind "tcp://127.0.0.1:$kport" --threads 1 --keys "$keys" \
    --bin "$bin" --remote-dir "$T/remote4" --ssh-config "$T/ssh_config" >"$T/ssh-keys.log" 2>&1 ||
    { cat "$T/ssh-keys.log"; fail "ssh-sweep --keys failed"; }
  same_report "$T/local" "$T/ssh-keys"
  echo "ssh_test: ssh-sweep --keys (CURVE) report equals the local sweep's"
else
  echo "ssh_test: NOTE: this bt has no 'bt sweep --keys' yet; the keyed sweep was not run"
fi
echo "ssh_test: PASS: ssh-sweep report equals the local sweep's; ssh-workers stop ends what start began"
