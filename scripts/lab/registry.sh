#!/usr/bin/env bash
# The lab's container registry, for the image pipeline (ai_registry in
# inventory/lab-pipeline.yml): Debian's docker-registry (distribution 2.8) in
# a lab container on the lab network, at 10.89.100.20:5000.
#
# Usage: scripts/lab/registry.sh start|trust|stop|address
#   start    run the registry (image from `scripts/build-lab-images.sh lab-registry`)
#            and wait until it answers; the lab network must exist (`make lab`)
#   trust    give each running lab host an explicit, lab-only entry that lets
#            Podman pull from the registry over plain HTTP
#            (/etc/containers/registries.conf.d/50-ai-system-lab-registry.conf)
#   stop     remove the registry container and its storage
#   address  print host:port
#
# Lab only: plain HTTP, no authentication. A real registry has TLS from a CA
# the hosts trust (docs/application.md, "Building and delivering images").
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lab/lib.sh
. "$repo/scripts/lab/lib.sh"
# shellcheck disable=SC2034  # read by lib.sh's lab_log
LAB_LOG_PREFIX=lab-registry
export PODMAN_IGNORE_CGROUPSV1_WARNING=1

network=${LAB_NETWORK:-ai-system-lab}
address=${LAB_REGISTRY_IP:-10.89.100.20}
port=5000
name=ai-system-lab-registry
image=localhost/ai-system/lab-registry:latest
volume=ai-system-lab-registry
hosts=(mainpc pc2)

answers() {  # answers: the registry's API answers
    curl -fsS -o /dev/null --max-time 2 "http://$address:$port/v2/"
}

start() {
    podman network exists "$network" || lab_die "the lab network $network does not exist: run \`make lab\` first"
    podman image exists "$image" || lab_die "$image is missing: run \`scripts/build-lab-images.sh lab-registry\`"
    if [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null || true)" != true ]; then
        podman rm -f --ignore "$name" >/dev/null
        podman run -d --name "$name" --network "$network" --ip "$address" \
            --label owner=ai-system-lab --volume "$volume:/var/lib/docker-registry" \
            "$image" >/dev/null
        lab_log "started $name at $address:$port"
    fi
    local _
    for _ in $(seq 1 30); do
        answers && { lab_log "$address:$port answers"; return 0; }
        sleep 1
    done
    podman logs --tail 20 "$name" >&2 || true
    lab_die "the registry at $address:$port does not answer after 30 s"
}

trust() {
    local host conf=/etc/containers/registries.conf.d/50-ai-system-lab-registry.conf
    for host in "${hosts[@]}"; do
        [ "$(podman inspect --format '{{.State.Running}}' "$host" 2>/dev/null || true)" = true ] || {
            lab_log "$host is not running; skipped"
            continue
        }
        podman exec -i "$host" sh -c "mkdir -p /etc/containers/registries.conf.d && cat > $conf" <<CONF
# Lab only: the lab registry speaks plain HTTP (scripts/lab/registry.sh).
[[registry]]
location = "$address:$port"
insecure = true
CONF
        podman exec "$host" grep -q "location = \"$address:$port\"" "$conf" \
            || lab_die "$host: writing $conf failed"
        lab_log "$host pulls from $address:$port over plain HTTP (lab-only entry $conf)"
    done
}

stop() {
    podman rm -f --ignore "$name" >/dev/null
    podman volume rm -f "$volume" >/dev/null 2>&1 || true
    lab_log "removed $name and its storage"
}

case ${1:-} in
    start) start ;;
    trust) trust ;;
    stop) stop ;;
    address) echo "$address:$port" ;;
    *) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
