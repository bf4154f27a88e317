#!/bin/sh
# Cancels the jobs left in the Slurm of DIR, then stops the daemons
# tests/slurm/setup.sh started, by the pids it wrote to
# DIR/pids (never by name): SIGTERM, then SIGKILL after 5 s, and moves
# them to DIR/pids.done. Quiet; the exit status is 1 if one of them would
# not die.
# Usage: tests/slurm/teardown.sh DIR
set -u
dir=${1:?usage: teardown.sh DIR}
[ -f "$dir/pids" ] || exit 0
status=0
# first the jobs still in this (private) Slurm, so no slurmstepd outlives it
if [ -f "$dir/slurm.conf" ] && [ -s "$dir/pids" ]; then
    export SLURM_CONF="$dir/slurm.conf"
    jobs=$(timeout 10 squeue -h -o %A 2>/dev/null)
    if [ -n "$jobs" ]; then
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null
        n=0
        while [ -n "$(timeout 10 squeue -h -o %A 2>/dev/null)" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    fi
fi
# the reverse order of starting: slurmd, slurmctld, munged
pids=$(awk '$2 ~ /^[0-9]+$/ && $2 > 1 { print $2 }' "$dir/pids" | tac)
for p in $pids; do kill -TERM "$p" 2>/dev/null; done
for p in $pids; do
    n=0
    while kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null
        sleep 0.2
        kill -0 "$p" 2>/dev/null && status=1
    fi
done
cat "$dir/pids" >>"$dir/pids.done"
: >"$dir/pids"
exit $status
