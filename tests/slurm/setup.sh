#!/bin/sh
# Brings up a single-node Slurm (munged, slurmctld, slurmd, each its own
# instance) on 127.0.0.1 for the tests, all state under DIR.
# Usage: tests/slurm/setup.sh DIR
# On success prints nothing and leaves:
#   DIR/slurm.conf   the configuration (export SLURM_CONF=DIR/slurm.conf)
#   DIR/pids         the daemons it started, one "NAME PID" a line, for
#                    tests/slurm/teardown.sh (which stops exactly those)
# On failure prints why on stderr, stops what it started, exits 1.
# Needs root (slurmd runs jobs as their users) and the Debian packages
# slurmctld slurmd slurm-client munge (.ci/deps.sh test installs them).
set -u
dir=${1:?usage: setup.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/state" "$dir/spool" || exit 1
dir=$(cd "$dir" && pwd)
: >"$dir/pids"

die() {
    echo "slurm setup: $*" >&2
    for f in slurmctld.log slurmd.log; do
        [ -s "$dir/$f" ] && { echo "--- $f" >&2; tail -n 15 "$dir/$f" >&2; }
    done
    sh "$here/teardown.sh" "$dir"
    exit 1
}

for c in munge unmunge munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
    command -v "$c" >/dev/null 2>&1 ||
        die "$c is missing: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge"
done
[ "$(id -u)" -eq 0 ] || die "needs root: slurmd starts jobs as their users (run the tests as root, as CI does)"

# munge: a daemon of its own (key, socket, pid and log in DIR), so tests
# running at the same time on this machine, and a munged the system runs,
# are neither used nor disturbed; -f: DIR's parents (/tmp) are world-writable
dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 2>/dev/null && chmod 0400 "$dir/munge.key" ||
    die "cannot write a munge key in $dir"
munged -f --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" >"$dir/munged.out" 2>&1 ||
    die "munged did not start: $(cat "$dir/munged.out")"
n=0
while [ ! -s "$dir/munged.pid" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
echo "munged $(cat "$dir/munged.pid" 2>/dev/null)" >>"$dir/pids"
n=0
until munge -n -S "$dir/munge.sock" 2>/dev/null | unmunge -S "$dir/munge.sock" >/dev/null 2>&1; do
    n=$((n + 1))
    [ $n -lt 50 ] || die "munged does not answer (see $dir/munged.log)"
    sleep 0.1
done

# two free TCP ports on the loopback, so a real Slurm on this machine
# (ports 6817/6818) is not disturbed
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
[ -n "$ports" ] || die "cannot find free ports"
set -- $ports
host=$(hostname -s)
cpus=$(nproc)
# half the memory, in MB: without RealMemory sbatch --mem is refused
mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 2048 }' /proc/meminfo)
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@NODE@|gevo1|g" -e "s|@CTLD_PORT@|$1|g" \
    -e "s|@SLURMD_PORT@|$2|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" \
    "$here/slurm.conf.in" >"$dir/slurm.conf" || die "cannot write slurm.conf"
export SLURM_CONF="$dir/slurm.conf"

# -i: ignore state from an earlier run; both daemonize and write pid files
slurmctld -i >"$dir/slurmctld.out" 2>&1 || die "slurmctld did not start: $(cat "$dir/slurmctld.out")"
n=0
while [ ! -s "$dir/slurmctld.pid" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
echo "slurmctld $(cat "$dir/slurmctld.pid" 2>/dev/null)" >>"$dir/pids"
slurmd -N gevo1 >"$dir/slurmd.out" 2>&1 || die "slurmd did not start: $(cat "$dir/slurmd.out")"
n=0
while [ ! -s "$dir/slurmd.pid" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
echo "slurmd $(cat "$dir/slurmd.pid" 2>/dev/null)" >>"$dir/pids"

# ready when the node is idle
n=0
until [ "$(sinfo -h -n gevo1 -o %t 2>/dev/null)" = idle ]; do
    n=$((n + 1))
    [ $n -lt 300 ] || die "the node did not become idle in 30 s (state: $(sinfo -h -n gevo1 -o %t 2>&1))"
    sleep 0.1
done
exit 0
