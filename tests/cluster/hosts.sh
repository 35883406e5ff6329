#!/usr/bin/env bash
# hosts.sh — three test "hosts" (a, b, c) on this machine, for cluster tests
# that must not share a network address or a file:
#   - each host is a network namespace with one interface, eth0, whose other
#     end sits on a bridge in a fourth, switch-only namespace; addresses
#     (10.203.0.1-3/24 by default) exist only inside these namespaces, and
#     nothing is added to the machine's own network namespace;
#   - each command runs under `unshare -m` with the host's private folder
#     mounted over /tmp and an empty tmpfs over the project and data folders,
#     so hosts share no file; bt and bt-worker are copied to /tmp/bt/bin of
#     every host (on its PATH).
# Files reach a host only by `put` (until bt ships data itself).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/cluster/hosts.sh up
       tests/cluster/hosts.sh exec HOST CMD [ARGS...]
       tests/cluster/hosts.sh put HOST SRC /tmp/DEST
       tests/cluster/hosts.sh path HOST /tmp/PATH
       tests/cluster/hosts.sh addr HOST
       tests/cluster/hosts.sh link HOST up|down
       tests/cluster/hosts.sh down

HOST is a, b or c. Environment: BT_HOSTS_ID names the set (default bthosts;
namespaces ID-a, ID-b, ID-c, ID-sw; state in /tmp/bt-hosts-ID), BT_HOSTS_NET
the first three octets of the addresses (default 10.203.0), BT_BIN_DIR the
folder with bt and bt-worker (default build/).
up     creates the namespaces, the links and the private folders; exit 77 (with
       a message) where namespaces or mounts are not allowed
exec   runs CMD on HOST (its /tmp is private; cwd /tmp)
put    copies SRC from here into HOST's private /tmp
path   prints where HOST's /tmp/PATH lives, to read results from outside
addr   prints HOST's address
link   takes HOST's network link down (a partition: packets are lost, the
       processes keep running and their TCP connections stay open) or up
down   ends every process in the namespaces and removes them and the folders

example:
  tests/cluster/hosts.sh up
  tests/cluster/hosts.sh exec a bt sweep /tmp/sma.yaml --bind tcp://10.203.0.1:'*' --workers 0 &
  tests/cluster/hosts.sh exec b bt-worker --connect tcp://10.203.0.1:PORT
  tests/cluster/hosts.sh down
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BT_BIN_DIR:-$root/build}
id=${BT_HOSTS_ID:-bthosts}
net=${BT_HOSTS_NET:-10.203.0}
state="/tmp/bt-hosts-$id"
hosts=(a b c)

die() {
  echo "hosts: $*" >&2
  exit 2
}
skip() {
  echo "hosts: $*" >&2
  exit 77
}

host_index() {
  case "$1" in
    a) echo 1 ;;
    b) echo 2 ;;
    c) echo 3 ;;
    *) die "no host '$1' (a, b or c)" ;;
  esac
}

# Folders every command of a host sees empty: the project and the data next
# to it (and the build folder, when it lives elsewhere).
hidden_dirs() {
  local d seen=()
  for d in "$root" "$(dirname "$root")/shared" "$bin"; do
    [ -d "$d" ] || continue
    d=$(cd "$d" && pwd -P)
    case "$d/" in /tmp/*) continue ;; esac # /tmp is replaced anyway
    local s nested=0
    for s in ${seen[@]+"${seen[@]}"}; do
      case "$d/" in "$s"/*) nested=1 ;; esac
    done
    [ "$nested" -eq 1 ] || { seen+=("$d"); echo "$d"; }
  done
}

down() {
  local h ns pids
  for h in "${hosts[@]}" sw; do
    ns="$id-$h"
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086 # a list of pids
    [ -z "$pids" ] || kill $pids 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] || break
      sleep 0.1
    done
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$state"
}

up() {
  [ "$(id -u)" -eq 0 ] || skip "network namespaces need root (or CAP_SYS_ADMIN + CAP_NET_ADMIN)"
  command -v ip >/dev/null || skip "ip (iproute2) is not installed"
  command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
  if [ ! -x "$bin/bt" ] || [ ! -x "$bin/bt-worker" ]; then die "no bt/bt-worker in $bin; build first"; fi
  [ ! -e "$state" ] || die "$state exists: hosts '$id' are up; run 'hosts.sh down' first"
  ip netns add "$id-sw" 2>/dev/null || skip "cannot create a network namespace here (ip netns add)"
  mkdir -p "$state"
  local h i ns
  ip -n "$id-sw" link set lo up
  ip -n "$id-sw" link add br0 type bridge || { down; skip "cannot create a bridge in a namespace"; }
  ip -n "$id-sw" link set br0 up
  for h in "${hosts[@]}"; do
    i=$(host_index "$h")
    ns="$id-$h"
    ip netns add "$ns"
    # Both ends are created inside the namespaces: the machine's own
    # namespace never holds a test interface or address.
    ip link add eth0 netns "$ns" type veth peer name "p-$h" netns "$id-sw" ||
      { down; skip "cannot create veth pairs between namespaces"; }
    ip -n "$id-sw" link set "p-$h" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "$state/$h/tmp/bt/bin"
    chmod 1777 "$state/$h/tmp"
    cp "$bin/bt" "$bin/bt-worker" "$state/$h/tmp/bt/bin/"
  done
  # The mounts of `exec` must work here, or no host is private.
  run a true 2>/dev/null || { down; skip "unshare -m with private tmpfs mounts is not allowed here"; }
  echo "hosts: up: a=$net.1 b=$net.2 c=$net.3 (namespaces $id-a/b/c, switch $id-sw, state $state)"
}

# run HOST CMD...: CMD in HOST's namespaces with its private /tmp.
run() {
  local h=$1
  shift
  host_index "$h" >/dev/null
  [ -d "$state/$h/tmp" ] || die "hosts '$id' are not up; run 'hosts.sh up'"
  local mounts="" d
  while IFS= read -r d; do
    mounts+="mount -t tmpfs -o size=1m,mode=0755 tmpfs $(printf '%q' "$d"); "
  done < <(hidden_dirs)
  # shellcheck disable=SC2016 # expanded by the inner bash
  mounts+='mount --bind "$HOST_TMP" /tmp'

  HOST_TMP="$state/$h/tmp" ip netns exec "$id-$h" unshare -m --propagation private \
    bash -c "set -e; $mounts; cd /tmp; export PATH=/tmp/bt/bin:\$PATH HOSTNAME=host-$h; exec \"\$@\"" \
    "host-$h" "$@"
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in
  -h|--help) usage ;;
  up) up ;;
  down) down ;;
  exec)
    [ $# -ge 3 ] || die "exec HOST CMD [ARGS...]"
    shift
    run "$@" ;;
  put)
    [ $# -eq 4 ] || die "put HOST SRC /tmp/DEST"
    host_index "$2" >/dev/null
    [[ "$4" == /tmp/* && "$4" != *..* ]] || die "put: DEST must be under /tmp, without '..'"
    mkdir -p "$(dirname "$state/$2$4")"
    cp -r "$3" "$state/$2$4" ;;
  path)
    [ $# -eq 3 ] || die "path HOST /tmp/PATH"
    host_index "$2" >/dev/null
    [[ "$3" == /tmp/* && "$3" != *..* ]] || die "path: give a path under /tmp, without '..'"
    echo "$state/$2$3" ;;
  addr)
    [ $# -eq 2 ] || die "addr HOST"
    echo "$net.$(host_index "$2")" ;;
  link)
    [ $# -eq 3 ] && { [ "$3" = up ] || [ "$3" = down ]; } || die "link HOST up|down"
    host_index "$2" >/dev/null
    # the switch's end of HOST's cable: HOST's own eth0 keeps its address
    ip -n "$id-sw" link set "p-$2" "$3" ;;
  *) die "unknown command '$1'; see --help" ;;
esac
