#!/usr/bin/env bash
# Runs the collection's GPU code paths on a real NVIDIA host and proves that a
# CUDA MPS memory limit holds (docs/gpu.md, "Sharing a GPU with MPS").
#
# NOT YET RUN ON HARDWARE: this script has only been written and linted
# (bash -n, ShellCheck); its first run on a GPU host is still to come
# (docs/gpu.md).
#
# Usage (as root, from the repository root, on a host with the NVIDIA driver):
#   scripts/gpu-mps-check.sh [--out DIR] [--gpu INDEX] [--image IMAGE] [--exclusive]
#     --out DIR     where the log and every JSON result go (default: a new
#                   directory under /tmp)
#     --gpu INDEX   the GPU the MPS daemon serves (default 0)
#     --image IMAGE an image with python3 for the probe under Podman with CDI
#                   (default: none, that step is skipped)
#     --exclusive   set the GPU to EXCLUSIVE_PROCESS for the MPS part, as the
#                   role's daemon unit does, and back to DEFAULT at the end
#
# Steps, each recorded in DIR/log.txt:
#   1. the driver as nvidia-smi sees it;
#   2. gpu_facts on the host (through ansible, when it is installed);
#   3. the CUDA probe directly on the host;
#   4. the CUDA probe in a container with the CDI device (Podman, nvidia-ctk
#      and --image needed);
#   5. an MPS control daemon with its own pipe and log directories, and two
#      probe clients at once with different CUDA_MPS_PINNED_DEVICE_MEM_LIMIT:
#      each must allocate half its budget and be refused the budget + 64 MiB
#      with CUDA_ERROR_OUT_OF_MEMORY ("VRAM budget enforced");
#   6. the control: the same client with a pipe directory no daemon serves
#      runs without MPS, so its over-budget allocation succeeds and the probe
#      must report the budget not enforced (the check can fail).
# Exit status 0 when every expectation held, 1 otherwise.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
probe="$repo/plugins/module_utils/verify/cuda_probe.py"
out=""
gpu=0
image=""
exclusive=0
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=$2; shift ;;
        --gpu) gpu=$2; shift ;;
        --image) image=$2; shift ;;
        --exclusive) exclusive=1 ;;
        -h | --help) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "gpu-mps-check: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
case $gpu in '' | *[!0-9]*) echo "gpu-mps-check: --gpu must be a GPU index" >&2; exit 2 ;; esac
[ -n "$out" ] || out=$(mktemp -d /tmp/gpu-mps-check.XXXXXX)
mkdir -p "$out"
log="$out/log.txt"
failures=0
export LANG=C LC_ALL=C

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$log"; }
fail() { say "FAIL: $*"; failures=$((failures + 1)); }

# expect FILE PYTHON-EXPRESSION DESCRIPTION: the probe's JSON in FILE as `doc`.
expect() {
    if python3 - "$1" "$2" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"doc": doc}) else 1)
EOF
    then say "ok: $3"; else fail "$3 (see $1)"; fi
}

say "gpu-mps-check on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), results in $out"
command -v nvidia-smi >/dev/null || { say "no nvidia-smi: not an NVIDIA host"; exit 1; }
nvidia-smi --query-gpu=index,name,memory.total,driver_version,compute_mode --format=csv | tee -a "$log"

# 2. gpu_facts
if command -v ansible >/dev/null; then
    if ANSIBLE_COLLECTIONS_PATH="$repo/collections" ansible localhost -c local -i localhost, \
            -m ai_system.containers.gpu_facts -a required=true >"$out/gpu_facts.txt" 2>&1; then
        say "ok: gpu_facts (required: true)"
    else
        fail "gpu_facts: $(tail -n 3 "$out/gpu_facts.txt")"
    fi
else
    say "skipped: gpu_facts (ansible is not installed here)"
fi

# 3. the probe on the host
python3 "$probe" --compact >"$out/probe-host.json" 2>"$out/probe-host.err" || true
expect "$out/probe-host.json" 'doc["status"] == "passed"' "CUDA probe on the host"

# 4. the probe under Podman with CDI
if [ -n "$image" ] && command -v podman >/dev/null && command -v nvidia-ctk >/dev/null; then
    podman run --rm --device "nvidia.com/gpu=$gpu" -v "$probe:/probe.py:ro" "$image" \
        python3 /probe.py --compact --require-injected >"$out/probe-podman.json" 2>"$out/probe-podman.err" || true
    expect "$out/probe-podman.json" 'doc["status"] == "passed"' "CUDA probe under Podman with CDI (nvidia.com/gpu=$gpu)"
else
    say "skipped: CUDA probe under Podman (needs podman, nvidia-ctk and --image)"
fi

# 5. MPS: a daemon of our own, two clients with different limits
command -v nvidia-cuda-mps-control >/dev/null || { fail "nvidia-cuda-mps-control is not installed"; exit 1; }
mps=$(mktemp -d /tmp/gpu-mps-check-mps.XXXXXX)
mkdir -p "$mps/pipe" "$mps/log" "$mps/nodaemon"
mode_before=$(nvidia-smi -i "$gpu" --query-gpu=compute_mode --format=csv,noheader)
cleanup() {
    CUDA_MPS_PIPE_DIRECTORY="$mps/pipe" CUDA_MPS_LOG_DIRECTORY="$mps/log" \
        sh -c 'echo quit | nvidia-cuda-mps-control' >/dev/null 2>&1 || true
    if [ "$exclusive" = 1 ]; then
        nvidia-smi -i "$gpu" -c DEFAULT >/dev/null 2>&1 || true
    fi
    cp -r "$mps/log" "$out/mps-log" 2>/dev/null || true
    rm -rf "$mps"
}
trap cleanup EXIT
if [ "$exclusive" = 1 ]; then
    say "compute mode was $mode_before; setting EXCLUSIVE_PROCESS on GPU $gpu"
    nvidia-smi -i "$gpu" -c EXCLUSIVE_PROCESS | tee -a "$log"
fi
CUDA_VISIBLE_DEVICES=$gpu CUDA_MPS_PIPE_DIRECTORY="$mps/pipe" CUDA_MPS_LOG_DIRECTORY="$mps/log" \
    nvidia-cuda-mps-control -d
say "MPS control daemon started for GPU $gpu (pipe $mps/pipe)"

client() {  # client NAME BUDGET_MIB PIPE_DIR [VISIBLE_DEVICES]
    # An MPS client must not set CUDA_VISIBLE_DEVICES (the daemon's applies);
    # the control, which runs without MPS, sees the same GPU through it.
    env ${4:+CUDA_VISIBLE_DEVICES=$4} CUDA_MPS_PIPE_DIRECTORY="$3" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="0=${2}M" \
        python3 "$probe" --compact --elements 4096 --budget-mib "$2" --mps \
        >"$out/probe-$1.json" 2>"$out/probe-$1.err" || true
}
client mps-a 1024 "$mps/pipe" &
client mps-b 3072 "$mps/pipe" &
wait
for c in mps-a mps-b; do
    expect "$out/probe-$c.json" 'doc["status"] == "passed" and doc["budget"]["status"] == "enforced"' \
        "MPS client $c: VRAM budget enforced"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reason"])' "$out/probe-$c.json" \
        2>/dev/null | tee -a "$log" || true
done
CUDA_MPS_PIPE_DIRECTORY="$mps/pipe" sh -c 'echo get_server_list | nvidia-cuda-mps-control' \
    | sed 's/^/MPS servers: /' | tee -a "$log" || true

# 6. the control: no daemon behind the pipe directory, so no limit
if [ "$exclusive" = 1 ]; then
    say "skipped: the control (EXCLUSIVE_PROCESS refuses a client without MPS while the daemon runs)"
else
    client nodaemon 1024 "$mps/nodaemon" "$gpu"
    expect "$out/probe-nodaemon.json" \
        'doc["status"] == "failed" and doc["budget"]["status"] == "failed" and "not enforced" in doc["error"]' \
        "control without MPS: the over-budget allocation succeeds and the probe says so"
fi

say "done: $failures failure(s); results in $out"
[ "$failures" -eq 0 ]
