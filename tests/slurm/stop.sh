#!/usr/bin/env bash
# tests/slurm/stop.sh DIR: stops the Slurm that tests/slurm/start.sh DIR started: cancels its
# jobs, stops slurmd, slurmctld and munged (the PIDs in DIR/*.pid; TERM, KILL after 10 s) and
# removes DIR. Safe to run twice or on a half-started DIR.
set -u
DIR=${1:?usage: tests/slurm/stop.sh DIR}
[ -d "$DIR" ] || exit 0
PATH=$PATH:/usr/sbin
if [ -f "$DIR/slurm.conf" ] && command -v scancel >/dev/null 2>&1; then
  export SLURM_CONF=$DIR/slurm.conf
  jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u)
  if [ -n "$jobs" ]; then
    timeout 10 scancel $jobs 2>/dev/null
    for _ in $(seq 20); do [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
fi
alive() {  # PID $1 runs program $2 and is not a zombie
  local st
  grep -q "$2" "/proc/$1/comm" 2>/dev/null || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$st" ] && [ "$st" != Z ]
}
stop_pid() {  # the daemon whose PID file is DIR/$1, if that PID still runs the program $2
  local f=$DIR/$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null)
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" "$2" || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 20); do alive "$pid" "$2" || return 0; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null
}
stop_pid slurmd.pid slurmd
stop_pid slurmctld.pid slurmctld
stop_pid munged.pid munged
rm -rf "$DIR"
