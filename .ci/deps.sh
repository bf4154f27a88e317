#!/bin/sh
# Installs the Debian packages gevo needs, or says exactly how to.
# Usage: .ci/deps.sh run|test   ("test" adds what the test suite needs)
# Called by `make run` and `make test` so that a fresh Debian 12 machine
# needs nothing but those two commands.
set -eu
need="build-essential pkg-config libncurses-dev libcurl4-openssl-dev libjansson-dev libgit2-dev libopenblas-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev dataset-fashion-mnist git"
if [ "${1:-run}" = test ]; then
    # python3: the fake LLM server; python3-numpy: NumPy data files for
    # test_data.sh; tmux: the workbench test driven as a
    # person would; clang: the fuzz target; clang-format: make format-check;
    # Slurm and munge: the Slurm evaluator's test (tests/slurm/setup.sh
    # starts them).
    need="$need python3 python3-numpy tmux clang clang-format slurmctld slurmd slurm-client munge"
    # python3-torch, python3-onnx: the PyTorch export's test
    # (tests/sh/test_export.sh) runs the exported modules against gevo
    need="$need python3-torch python3-onnx"
fi
missing=""
for p in $need; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "gevo: missing Debian packages:$missing" >&2
    echo "gevo: install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
echo "gevo: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
