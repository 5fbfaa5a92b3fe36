# shellcheck shell=bash
# Helpers shared by the lab scripts: logging, timed stages and a progress
# ticker for long-running commands. Source it; it defines functions only.

LAB_LOG_PREFIX=${LAB_LOG_PREFIX:-lab}
declare -a LAB_TIMINGS=()

lab_log() {
    printf '[%s] %s\n' "$LAB_LOG_PREFIX" "$*"
}

lab_die() {
    printf '[%s] error: %s\n' "$LAB_LOG_PREFIX" "$*" >&2
    exit 1
}

# lab_lock: holds the machine's lab lock until the calling script exits. The
# lab's hosts, network and volumes have fixed names, so a second lab run
# (another checkout, a CI job) waits here instead of destroying this one's.
lab_lock() {
    local lock=${AI_SYSTEM_LAB_LOCK:-/run/lock/ai-system-lab.lock}
    exec 9>>"$lock" || lab_die "cannot open the lab lock $lock"
    if ! flock --nonblock 9; then
        lab_log "another lab run holds $lock: waiting for it to finish"
        flock 9
    fi
}

lab_fmt_secs() {
    local s=$1
    if [ "$s" -ge 60 ]; then
        printf '%dm%02ds' $((s / 60)) $((s % 60))
    else
        printf '%ds' "$s"
    fi
}

# lab_stage LABEL COMMAND [ARGS...]
# Runs COMMAND, records how long it took under LABEL and returns its status.
lab_stage() {
    local label=$1 start rc=0
    shift
    start=$(date +%s)
    lab_log "==> $label"
    "$@" || rc=$?
    local took=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        LAB_TIMINGS+=("$label|$took|ok")
        lab_log "<== $label: done in $(lab_fmt_secs "$took")"
    else
        LAB_TIMINGS+=("$label|$took|FAILED (exit $rc)")
        lab_log "<== $label: FAILED (exit $rc) after $(lab_fmt_secs "$took")"
    fi
    return "$rc"
}

# lab_timing_report: prints a table of every stage run through lab_stage.
lab_timing_report() {
    [ "${#LAB_TIMINGS[@]}" -gt 0 ] || return 0
    local entry label took status total=0
    lab_log "timings:"
    for entry in "${LAB_TIMINGS[@]}"; do
        IFS='|' read -r label took status <<<"$entry"
        total=$((total + took))
        printf '[%s]   %-44s %8s  %s\n' "$LAB_LOG_PREFIX" "$label" "$(lab_fmt_secs "$took")" "$status"
    done
    printf '[%s]   %-44s %8s\n' "$LAB_LOG_PREFIX" "total" "$(lab_fmt_secs "$total")"
}

# lab_run_logged LOGFILE LABEL COMMAND [ARGS...]
# Runs a slow, chatty COMMAND with its output going to LOGFILE, printing a
# progress line (elapsed time and the command's latest output line) every
# LAB_TICK seconds. On failure the end of LOGFILE is shown.
lab_run_logged() {
    local logfile=$1 label=$2 pid rc=0 elapsed=0 tick=${LAB_TICK:-10}
    shift 2
    mkdir -p "$(dirname "$logfile")"
    "$@" >"$logfile" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        elapsed=$((elapsed + 1))
        if [ $((elapsed % tick)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then
            lab_log "    $label: $(lab_fmt_secs "$elapsed") elapsed; $(tail -n 1 "$logfile" | cut -c1-100)"
        fi
    done
    wait "$pid" || rc=$?
    if [ "$rc" -ne 0 ]; then
        lab_log "    $label failed (exit $rc); last lines of $logfile:"
        tail -n 25 "$logfile" | sed "s/^/[$LAB_LOG_PREFIX]      /" >&2
    fi
    return "$rc"
}
