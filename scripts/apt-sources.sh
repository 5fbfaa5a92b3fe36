#!/usr/bin/env bash
# The Debian mirror that this machine's apt sources use for a suite, read from
# both formats apt knows: one-line (sources.list, sources.list.d/*.list) and
# deb822 (sources.list.d/*.sources).
#
# Usage: scripts/apt-sources.sh SUITE [FILE...]
#   Prints "URI<TAB>SIGNED-BY" of the first enabled `deb` source of SUITE with
#   the main component; failing that, of SUITE-updates, -backports or
#   -proposed-updates (the same archive serves them; -security comes from
#   another one). SIGNED-BY is the source's keyring file, or "-". Exits 1
#   when no source matches. FILEs default to apt's own list, in apt's order.
#
# Sourced, it defines the functions below and runs nothing.

# apt's source files under ${APT_SOURCES_ROOT}/etc/apt, in the order apt reads
# them: sources.list, then sources.list.d/ by name.
apt_source_files() {
    local dir=${APT_SOURCES_ROOT:-}/etc/apt f
    [ -f "$dir/sources.list" ] && printf '%s\n' "$dir/sources.list"
    for f in "$dir"/sources.list.d/*; do
        case $f in
            *.list | *.sources) [ -f "$f" ] && printf '%s\n' "$f" ;;
        esac
    done
    return 0
}

# One line "URI<TAB>SUITE<TAB>SIGNED-BY" per enabled `deb` source with the main
# component, in file order. cdrom: sources are left out.
apt_source_entries() {
    [ $# -gt 0 ] || return 0
    awk '
    function emit(uri, suite, comps, signed,    n, i, c, has_main) {
        if (uri ~ /^cdrom:/) return
        n = split(comps, c, /[ \t]+/)
        has_main = 0
        for (i = 1; i <= n; i++) if (c[i] == "main") has_main = 1
        if (!has_main) return
        if (signed !~ /^\//) signed = "-"
        printf "%s\t%s\t%s\n", uri, suite, signed
    }
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    # deb822: one paragraph, its fields in f[] (names lower-case).
    function flush(    nt, t, i, deb, nu, u, ns, s, j, k) {
        if (!("types" in f)) { delete f; return }
        nt = split(f["types"], t, /[ \t]+/)
        deb = 0
        for (i = 1; i <= nt; i++) if (t[i] == "deb") deb = 1
        if (deb && tolower(trim(f["enabled"])) != "no") {
            nu = split(trim(f["uris"]), u, /[ \t]+/)
            ns = split(trim(f["suites"]), s, /[ \t]+/)
            for (j = 1; j <= nu; j++)
                for (k = 1; k <= ns; k++)
                    emit(u[j], s[k], trim(f["components"]), trim(f["signed-by"]))
        }
        delete f
    }
    FNR == 1 { if (deb822) flush(); deb822 = (FILENAME ~ /\.sources$/); key = "" }
    deb822 {
        if ($0 ~ /^#/) next
        if ($0 ~ /^[ \t]*$/) { flush(); key = ""; next }
        if ($0 ~ /^[ \t]/) { if (key != "") f[key] = f[key] " " trim($0); next }
        i = index($0, ":")
        if (i == 0) next
        key = tolower(trim(substr($0, 1, i - 1)))
        f[key] = trim(substr($0, i + 1))
        next
    }
    {
        line = $0
        sub(/^[ \t]+/, "", line)
        if (line ~ /^#/) next
        sub(/[ \t]#.*$/, "", line)
        # Options: "[key=value key=value]" after the type.
        opts = ""
        if (match(line, /^deb[ \t]+\[[^]]*\]/)) {
            opts = substr(line, RSTART, RLENGTH)
            line = "deb " substr(line, RSTART + RLENGTH)
        }
        n = split(line, w, /[ \t]+/)
        if (w[1] != "deb" || n < 3) next
        signed = ""
        if (match(opts, /signed-by=[^] \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
        comps = ""
        for (i = 4; i <= n; i++) comps = comps " " w[i]
        emit(w[2], w[3], comps, signed)
    }
    END { if (deb822) flush() }
    ' "$@"
}

# "URI<TAB>SIGNED-BY" of the source for SUITE (see the usage above).
apt_mirror_for_suite() {
    local suite=$1
    shift
    apt_source_entries "$@" | awk -F '\t' -v s="$suite" '
        $2 == s && exact == "" { exact = $1 "\t" $3 }
        near == "" && ($2 == s "-updates" || $2 == s "-backports" || $2 == s "-proposed-updates") {
            near = $1 "\t" $3
        }
        END {
            if (exact != "") print exact
            else if (near != "") print near
            else exit 1
        }'
}

# A deb822 source for SUITE from URI (main component), signed by SIGNED_BY
# ("-" or empty: apt's trusted keys).
apt_suite_stanza() {
    local suite=$1 uri=$2 signed_by=${3:--}
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$suite"
    [ "$signed_by" = - ] || printf 'Signed-By: %s\n' "$signed_by"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
        [ $# -ge 1 ] && exit 0
        exit 2
    fi
    suite=$1
    shift
    if [ $# -eq 0 ]; then
        mapfile -t files < <(apt_source_files)
        set -- "${files[@]}"
    fi
    apt_mirror_for_suite "$suite" "$@"
fi
