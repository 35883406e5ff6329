#!/usr/bin/env bash
# slurm_test.sh — scripts/slurm-sweep end to end on a one-node Slurm cluster
# started here: munged with a temporary key and socket, slurmctld and slurmd
# on private ports with every file in a temporary folder (no cgroups,
# proctrack/linuxproc, task/none). A sweep of configs/sma_cross.yaml on the
# demo market through `slurm-sweep --wait` must give results.csv and
# ranking.csv byte for byte equal to a local `bt sweep`. Every daemon is
# stopped on exit. Where the daemons cannot start: "SKIPPED: slurm: why",
# exit 77.
set -euo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

for c in munged munge slurmctld slurmd sbatch srun sinfo ss; do
  command -v "$c" >/dev/null ||
    skip slurm "$c is not installed (scripts/setup installs munge, slurmctld, slurmd, slurm-client)"
done
[ "$(id -u)" -eq 0 ] || skip slurm "slurmd must run as root to launch job steps; run as root"
if [ ! -x "$bin/bt" ] || [ ! -x "$bin/bt-worker" ]; then fail "no bt/bt-worker in $bin; build first"; fi

# /tmp, not $TMPDIR: the munge socket path must stay short (108 bytes).
T=$(mktemp -d /tmp/bt-slurm-XXXXXX)
chmod 755 "$T"
cleanup() {
  stop_pidfile "$T/slurmd.pid"
  stop_pidfile "$T/slurmctld.pid"
  stop_pidfile "$T/munge/munged.pid"
  if [ "${BT_KEEP_TMP:-0}" = 1 ]; then echo "slurm_test: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
logs() {
  local f
  for f in "$T"/log/*.log "$T"/slurm/slurm-*.out; do
    [ -f "$f" ] || continue
    echo "---- $f (last 30 lines)"
    tail -n 30 "$f"
  done
}

# munge: a fresh key, its own socket; slurm finds it via AuthInfo.
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log"
chmod 700 "$T/munge"
head -c 1024 /dev/urandom >"$T/munge/munge.key"
chmod 400 "$T/munge/munge.key"
sock="$T/munge/munge.sock"
munged --force --key-file="$T/munge/munge.key" --socket="$sock" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/log/munged.log" \
  --seed-file="$T/munge/seed" || { logs; skip slurm "munged did not start"; }
wait_for 20 bash -c "munge -S '$sock' -n | unmunge -S '$sock'" ||
  { logs; skip slurm "munged does not answer on $sock"; }

node=$(hostname -s)
ctld_port=$(free_port)
slurmd_port=$(free_port)
job_port=$(free_port)
# slurm-sweep derives its port from the job id (10000 + id % 20000): start the
# ids where that lands on a free port, so the default path is what is tested.
first_job=$((job_port - 10000))
[ "$ctld_port" != "$slurmd_port" ] || slurmd_port=$((ctld_port + 1))
conf="$T/slurm.conf"
cat >"$conf" <<EOF
ClusterName=bttest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
FirstJobId=$first_job
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=bttest Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"
slurmctld -f "$conf" || { logs; skip slurm "slurmctld did not start"; }
wait_for 30 scontrol ping || { logs; skip slurm "slurmctld does not answer on port $ctld_port"; }
slurmd -f "$conf" -N "$node" || { logs; skip slurm "slurmd did not start"; }
wait_for 60 bash -c "sinfo -h -n '$node' -o %t | grep -qx idle" ||
  { logs; skip slurm "node $node did not become idle"; }
echo "slurm_test: one-node cluster up (slurmctld :$ctld_port, slurmd :$slurmd_port, node $node)"

make_demo "$T"
"$bin/bt" sweep "$T/sma.yaml" --out "$T/local" --workers 2 >"$T/log/local.log" 2>&1 ||
  { cat "$T/log/local.log"; fail "local bt sweep failed"; }

rc=0
timeout 600 "$root/scripts/slurm-sweep" "$T/sma.yaml" --nodes 1 --cpus-per-task 2 \
  --out "$T/slurm" --bin "$bin" --job-name bt-test --insecure --wait || rc=$?
if [ "$rc" -ne 0 ]; then
  logs
  fail "slurm-sweep --wait exited with $rc"
fi
same_report "$T/local" "$T/slurm"
grep -q "coordinator on $node:$job_port, 1 worker(s) x 2 CPUs" "$T"/slurm/slurm-*.out || { logs; fail "job log lacks the worker line"; }
# the worker srun started, with --threads from its allocation (-c 2)
grep -qF "worker $node-0 joined (2 thread(s)" "$T"/slurm/slurm-*.out ||
  { logs; fail "job log lacks the srun worker with 2 threads"; }
grep -q "sweep done" "$T"/slurm/slurm-*.out || { logs; fail "job log lacks 'sweep done'"; }
n=$(wc -l <"$T/slurm/results.csv")
echo "slurm_test: PASS: results.csv ($n lines) and ranking.csv of the Slurm job equal the local sweep's"
