#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run indirectly, through lab_stage
# Builds the lab images and runs the Molecule scenarios against them, timing
# each stage, then checks that no lab host, network or volume is left.
#
# Usage: scripts/lab-test.sh [--rebuild] [SCENARIO...]
#   SCENARIO    default and/or podman_unsupported (default: both)
#   --rebuild   rebuild the lab images from scratch first
#
# Needs root, Podman >= 4.4, debootstrap (scripts/install-host-deps.sh) and
# the virtualenv and collections of `make deps`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lab/lib.sh
. "$repo/scripts/lab/lib.sh"
LAB_LOG_PREFIX=lab-test

venv=${VENV:-$repo/.venv}
build_args=()
scenarios=()
while [ $# -gt 0 ]; do
    case $1 in
        --rebuild) build_args+=(--rebuild) ;;
        -h | --help) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) lab_die "unknown option: $1" ;;
        *)
            [ -f "$repo/molecule/$1/molecule.yml" ] || lab_die "no such scenario: molecule/$1"
            scenarios+=("$1")
            ;;
    esac
    shift
done
[ "${#scenarios[@]}" -gt 0 ] || scenarios=(default podman_unsupported)

[ -x "$venv/bin/molecule" ] || lab_die "no molecule in $venv: run \`make deps\` first"
[ -d "$repo/.deps/collections/ansible_collections/containers/podman" ] \
    || lab_die "containers.podman is missing from .deps/collections: run \`make deps\` first"

# Molecule shells out to ansible-config and ansible-playbook: the
# virtualenv's tools come first.
export PATH="$venv/bin:$PATH"
export PODMAN_IGNORE_CGROUPSV1_WARNING=1
export ANSIBLE_CONFIG="$repo/ansible.cfg"
# The scenarios live in molecule/ (not in extensions/molecule/).
export MOLECULE_GLOB="molecule/*/molecule.yml"
cd "$repo"

for s in "${scenarios[@]}"; do
    if [ "$s" = podman_unsupported ]; then
        build_args+=(--bookworm)
    fi
done

leftovers() {
    local found=0 what
    what=$(podman ps -a --filter label=owner=molecule --format '{{.Names}}')
    [ -z "$what" ] || { lab_log "containers left: $what"; found=1; }
    what=$(podman network ls --format '{{.Name}}' | grep '^ai-system-lab' || true)
    [ -z "$what" ] || { lab_log "networks left: $what"; found=1; }
    what=$(podman volume ls --filter label=owner=molecule --format '{{.Name}}')
    [ -z "$what" ] || { lab_log "volumes left: $what"; found=1; }
    [ "$found" -eq 0 ] && lab_log "no lab containers, networks or volumes left"
    return "$found"
}

lab_lock
rc=0
if lab_stage "build lab images" "$repo/scripts/build-lab-images.sh" "${build_args[@]}"; then
    for s in "${scenarios[@]}"; do
        lab_stage "molecule test -s $s" molecule -c molecule/config.yml test -s "$s" || rc=1
    done
else
    rc=1
fi
lab_stage "check for leftovers" leftovers || rc=1
lab_timing_report
exit "$rc"
