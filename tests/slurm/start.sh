#!/usr/bin/env bash
# tests/slurm/start.sh DIR: a private single-node Slurm on this machine for the tests of
# `medtrain sweep --backend slurm` (tests/test_sweep_slurm.c). Debian's slurm-wlm and munge
# (`make deps-slurm`), no systemd: the daemons are started directly and everything they write
# lives under DIR (created; give a fresh one):
#   DIR/munge.key, DIR/munge.socket   a private munged (own key and socket, --force: runs as root)
#   DIR/slurm.conf                    SlurmctldHost and NodeName = $(hostname -s) at 127.0.0.1,
#                                     CPUs and RealMemory as `slurmd -C` finds them, one partition
#                                     "debug", proctrack/linuxproc, task/none (no cgroups),
#                                     select/cons_tres with CR_CPU, no accounting database
#                                     (jobcomp/filetxt into DIR/log/jobcomp.txt; sacct answers
#                                     "accounting storage is disabled")
#   DIR/state, DIR/spool, DIR/log     slurmctld state, slurmd spool, the daemons' logs
# Ports: the first free pair from 16817/16818 up (MT_SLURM_PORT to start elsewhere).
# Waits (up to 60 s) until `sinfo` shows the node idle, then prints the slurm.conf path; every
# Slurm command needs it: export SLURM_CONF=DIR/slurm.conf. tests/slurm/stop.sh DIR undoes it all.
# Exit status: 0 started; 77 cannot run here (slurmctld or munged not installed, not root); 1 failed
# (the logs' tails printed, the daemons stopped).
set -u
DIR=${1:?usage: tests/slurm/start.sh DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
for b in slurmctld slurmd munged sinfo sbatch; do
  command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
  command -v "$b" >/dev/null 2>&1 || { echo "skipped: no slurm ($b not installed; make deps-slurm)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: slurmd must run as root to start jobs"; exit 77; }

mkdir -p "$DIR"/state "$DIR"/spool "$DIR"/log || exit 1
DIR=$(cd "$DIR" && pwd)
chmod 755 "$DIR"
fail() {
  echo "tests/slurm/start.sh: $*" >&2
  for f in "$DIR"/munged.log "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log; do
    [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
  done
  bash "$HERE/stop.sh" "$DIR" >/dev/null 2>&1
  exit 1
}

# munge: a private key and socket, so a machine's own munged (if any) is left alone
head -c 1024 /dev/urandom > "$DIR/munge.key" && chmod 400 "$DIR/munge.key" || fail "cannot write $DIR/munge.key"
munged --force --key-file="$DIR/munge.key" --socket="$DIR/munge.socket" --pid-file="$DIR/munged.pid" \
  --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed" || fail "munged did not start"
munge -S "$DIR/munge.socket" -n | unmunge -S "$DIR/munge.socket" >/dev/null 2>&1 || fail "munge credentials do not round-trip"

# two free TCP ports (slurmctld, slurmd)
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${MT_SLURM_PORT:-16817}
while listening "$PORT" || listening $((PORT + 1)); do PORT=$((PORT + 2)); done

HOST=$(hostname -s)
NODE=$(slurmd -C 2>/dev/null | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$HOST NodeAddr=127.0.0.1/")
[[ $NODE == NodeName=* ]] || NODE="NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))"
cat > "$DIR/slurm.conf" <<CONF
# written by tests/slurm/start.sh: a private single-node Slurm for the tests
ClusterName=medtrain-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=30
KillWait=5
# start the next array tasks soon after others end (batch_sched_delay defaults to 3 s): quicker tests
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000
$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$DIR/slurm.conf

# -D: in the foreground of their own session (no systemd here); logs go to DIR/log
setsid slurmctld -D -f "$SLURM_CONF" </dev/null >"$DIR/log/slurmctld.out" 2>&1 &
setsid slurmd -D -N "$HOST" -f "$SLURM_CONF" </dev/null >"$DIR/log/slurmd.out" 2>&1 &
for _ in $(seq 120); do
  [ "$(sinfo -h -N -o %t 2>/dev/null)" = idle ] && { echo "$SLURM_CONF"; exit 0; }
  sleep 0.5
done
fail "node $HOST not idle after 60 s: $(sinfo -h -N -o '%t %E' 2>&1)"
