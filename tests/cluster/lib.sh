# shellcheck shell=bash
# lib.sh — shared by the tests/cluster/*_test.sh scripts (sourced, not run).
# Exit code 77 means "skipped": ctest (SKIP_RETURN_CODE 77) and scripts/test
# report it as skipped, never as passed, and the reason is printed loudly.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BT_BIN_DIR:-$root/build}

# skip TAG REASON...: prints "SKIPPED: TAG: REASON" and exits 77.
skip() {
  local tag=$1
  shift
  echo "SKIPPED: $tag: $*"
  exit 77
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A TCP port nobody listens on now, from a random start in 20000..29999
# (below the ephemeral range, so an outgoing connection will not take it).
free_port() {
  local used p i
  used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
  p=$((20000 + RANDOM % 10000))
  for ((i = 0; i < 10000; i++)); do
    if ! grep -qx "$p" <<<"$used"; then
      echo "$p"
      return 0
    fi
    p=$((20000 + (p - 20000 + 1) % 10000))
  done
  return 1
}

# wait_for SECONDS CMD...: runs CMD every 0.2 s until it succeeds or the
# deadline passes (a readiness poll, not a fixed sleep).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# stop_pidfile FILE: TERM the process named in FILE (if any) and wait for it.
stop_pidfile() {
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  wait_for 20 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
}

# The demo market and a copy of configs/sma_cross.yaml that points at it:
# make_demo DIR -> DIR/demo.h5, DIR/sma.yaml
make_demo() {
  "$bin/bt" data synth --out "$1/demo.h5" --symbols 4 --bars 2520 --seed 42 >/dev/null
  sed "s|^  store: .*|  store: $1/demo.h5|" "$root/configs/sma_cross.yaml" >"$1/sma.yaml"
  grep -q "store: $1/demo.h5" "$1/sma.yaml" || fail "could not point sma.yaml at $1/demo.h5"
}

# same_report A B: results.csv and ranking.csv byte for byte.
same_report() {
  local f
  for f in results.csv ranking.csv; do
    [ -s "$1/$f" ] || fail "$1/$f missing or empty"
    cmp "$1/$f" "$2/$f" || fail "$1/$f and $2/$f differ"
  done
}

# hosts_up NAME: the three test hosts of hosts.sh for NAME_test.sh. Sets
# hosts (the script), T (a temp folder), coord (a pid the caller may set, killed
# at exit) and a (host A's address); installs the EXIT trap that takes the hosts
# down; skips (77) where network namespaces are not allowed.
hosts_up() {
  hosts_name=$1
  export BT_HOSTS_ID="bt${hosts_name:0:2}$$"
  hosts="$root/tests/cluster/hosts.sh"
  T=$(mktemp -d "/tmp/bt-$hosts_name-XXXXXX")
  coord=""
  local rc=0
  "$hosts" up >"$T/up.log" 2>&1 || rc=$?
  if [ "$rc" -eq 77 ]; then
    local why
    why=$(tail -n 1 "$T/up.log")
    rm -rf "$T"
    skip netns "${why#hosts: }"
  fi
  trap hosts_cleanup EXIT
  [ "$rc" -eq 0 ] || { cat "$T/up.log"; fail "hosts.sh up failed"; }
  a=$("$hosts" addr a)
}

hosts_cleanup() {
  if [ -n "$coord" ]; then kill "$coord" 2>/dev/null || true; fi
  "$hosts" down || true
  if [ "${BT_KEEP_TMP:-0}" = 1 ]; then echo "${hosts_name}_test: kept $T"; else rm -rf "$T"; fi
}
