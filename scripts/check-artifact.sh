#!/usr/bin/env bash
# Builds the collection's tarball and proves that it is the whole product:
#
#   1. build    ansible-galaxy collection build, into a temporary folder
#   2. members  nothing but the collection: no symlink that leaves the
#               tarball or dangles, no lab, tests, inventories, caches or
#               build outputs; the files an installed collection needs
#   3. install  offline, into a temporary collections path, its dependencies
#               resolved against the collections of `make deps`
#   4. use      from an empty folder, without the checkout's ansible.cfg:
#               ansible-doc of every module and role, --syntax-check of the
#               playbooks by their FQCN, a render (its files land in that
#               folder) and a verify report (lands in that folder's
#               reports/), the installed collection left unchanged
#   5. ee       the execution-environment files: ansible-builder introspects
#               the installed collection and creates a build context from
#               execution-environment.yml
#
# Usage: scripts/check-artifact.sh [--install-to DIR]
#   --install-to DIR  stop after step 3, with the collection installed in DIR
#                     (a collections path: DIR/ansible_collections/...)
#
# Needs the virtualenv and collections of `make deps`; touches nothing in the
# checkout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${VENV_BIN:-$repo/.venv/bin}
deps=$repo/.deps/collections
install_to=

while [ $# -gt 0 ]; do
    case $1 in
        --install-to)
            [ $# -ge 2 ] || { echo "--install-to needs a folder" >&2; exit 2; }
            install_to=$(realpath -m -- "$2")
            shift
            ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '[check-artifact] %s\n' "$*"; }
die() { printf '[check-artifact] FAILED: %s\n' "$*" >&2; exit 1; }

[ -x "$bin/ansible-galaxy" ] || die "no ansible-galaxy in $bin: run \`make deps\` first"
[ -d "$deps/ansible_collections/containers/podman" ] \
    || die "containers.podman is missing from $deps: run \`make deps\` first"

work=$(mktemp -d "${TMPDIR:-/tmp}/ai-system-artifact.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)

step() {
    local name=$1 start tenths
    shift
    start=$(date +%s%N)
    "$@"
    tenths=$((($(date +%s%N) - start) / 100000000))
    log "$(printf '%-8s ok (%d.%d s)' "$name" $((tenths / 10)) $((tenths % 10)))"
}

# Every Ansible command below runs with this environment only: no ANSIBLE_*
# variable of the caller, an empty configuration file (not the checkout's
# ansible.cfg), the installed collection first and then its dependencies.
empty_cfg=$work/empty.cfg
: >"$empty_cfg"
ansible_env() {
    env -i PATH="$bin:/usr/local/bin:/usr/bin:/bin" HOME="${HOME:-$work}" LANG=C.UTF-8 \
        TMPDIR="${TMPDIR:-/tmp}" ANSIBLE_CONFIG="$empty_cfg" ANSIBLE_NOCOLOR=1 \
        ANSIBLE_COLLECTIONS_PATH="$collections:$deps" \
        PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$@"
}

version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' \
    "$repo/galaxy.yml")
tarball=$work/dist/ai_system-containers-$version.tar.gz
collections=${install_to:-$work/collections}
coll_dir=$collections/ansible_collections/ai_system/containers

build() {
    "$bin/ansible-galaxy" collection build --output-path "$work/dist" "$repo" >"$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; die "ansible-galaxy collection build"; }
    # A warning means a file was skipped or changed on the way (for instance a
    # link to a folder outside the collection).
    if grep -q WARNING "$work/build.log"; then
        cat "$work/build.log" >&2
        die "the build warned"
    fi
    [ -f "$tarball" ] || die "no $tarball"
}

members() {
    "$bin/python" - "$tarball" <<'PY' || die "the tarball holds more or less than the collection"
import posixpath
import re
import sys
import tarfile

ALLOWED_TOP = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "COPYING",
               "bindep.txt", "changelogs", "docs", "examples", "meta", "playbooks", "plugins",
               "roles"}
FORBIDDEN = [
    (r"(^|/)\.", "a dot file or folder (tool settings, caches, .config/molecule)"),
    (r"^(images|scripts|molecule|bench)(/|$)", "the test lab or benchmarks"),
    (r"^tests(/|$)", "tests (they need the repository)"),
    (r"^docs/(lab|development)\.md$", "a doc for working on the repository"),
    (r"^inventory(/|$)", "an inventory (production holds real LAN addresses)"),
    (r"^collections(/|$)", "the checkout's link back to itself"),
    (r"^(build|reports|context)(/|$)|^playbooks/build(/|$)", "output of a run"),
    (r"(^|/)__pycache__(/|$)|\.py[co]$", "Python bytecode"),
    (r"^changelogs/\.plugin-cache\.yaml$", "a changelog tool cache"),
    (r"\.tar\.gz$", "a built artifact"),
    (r"^(Makefile|ansible\.cfg|pytest\.ini|site\.yml|galaxy\.yml|execution-environment\.yml)$",
     "a file for working in the checkout"),
    (r"^requirements[^/]*\.(txt|yml)$", "the checkout's requirements"),
]
REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "COPYING", "bindep.txt",
            "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt",
            "playbooks/site.yml", "playbooks/verify.yml", "playbooks/render.yml",
            "CHANGELOG.md", "changelogs/changelog.yaml", "docs/getting-started.md",
            "examples/inventory/hosts.yml", "examples/inventory/group_vars/all/vault.yml"]

problems = []
flagged = []  # reported paths: what lies under them is not reported again
with tarfile.open(sys.argv[1]) as tar:
    infos = tar.getmembers()
names = {info.name.rstrip("/") for info in infos}
for info in sorted(infos, key=lambda i: i.name):
    name = info.name.rstrip("/")
    if any(name.startswith(f + "/") for f in flagged):
        continue
    reasons = []
    if name.startswith("/") or ".." in name.split("/"):
        reasons.append("a path outside the collection")
    reasons += [what for pattern, what in FORBIDDEN if re.search(pattern, name)]
    if not reasons and name.split("/")[0] not in ALLOWED_TOP:
        reasons.append("not part of the collection (at the top only %s)" % ", ".join(sorted(ALLOWED_TOP)))
    if info.issym() or info.islnk():
        link = info.linkname
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), link)) \
            if info.issym() else posixpath.normpath(link)
        if posixpath.isabs(link) or target == ".." or target.startswith("../"):
            reasons.append("a link (-> %s) that points outside the collection" % link)
        elif target not in names:
            reasons.append("a link (-> %s) to nothing in the collection" % link)
    elif not (info.isfile() or info.isdir()):
        reasons.append("neither a file, a folder nor a link")
    if reasons:
        flagged.append(name)
        problems.append("%s%s: %s" % (name, "/" if info.isdir() else "", "; ".join(reasons)))
missing = [n for n in REQUIRED if n not in names]
roles = sorted({n.split("/")[1] for n in names if n.startswith("roles/") and n.count("/") >= 2})
missing += ["roles/%s/meta/argument_specs.yml" % r for r in roles
            if "roles/%s/meta/argument_specs.yml" % r not in names]
problems += ["%s: missing" % n for n in missing]
if problems:
    print("\n".join("  " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print("[check-artifact]   %d members, %d links, all of the collection"
      % (len(names), sum(i.issym() or i.islnk() for i in infos)))
PY
}

install() {
    mkdir -p "$collections"
    # Offline: the dependencies declared in galaxy.yml must be met by the
    # collections already in the path (those of `make deps`).
    ansible_env "$bin/ansible-galaxy" collection install --offline --force -p "$collections" "$tarball" \
        >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; die "offline install"; }
    [ -f "$coll_dir/MANIFEST.json" ] || die "nothing installed under $coll_dir"
}

step build build
step members members
step install install
if [ -n "$install_to" ]; then
    log "installed in $collections (tarball $(basename "$tarball"))"
    exit 0
fi

# The folder a user runs ansible-playbook in: empty, unrelated to the checkout.
run_dir=$work/run
mkdir -p "$run_dir"
in_run_dir() { (cd "$run_dir" && ansible_env "$@"); }

snapshot() {
    # Files and folders with their checksums and modes; bytecode caches that
    # Python writes next to imported code are not the collection's content.
    (cd "$coll_dir" && find . -name __pycache__ -prune -o -printf '%y %m %p\n' | sort &&
        find . -name __pycache__ -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
}

docs() {
    local modules roles
    modules=$(tar -tzf "$tarball" | sed -n 's|^plugins/modules/\([a-z_0-9]*\)\.py$|ai_system.containers.\1|p' | sort)
    roles=$(tar -tzf "$tarball" | sed -n 's|^roles/\([a-z_0-9]*\)/meta/argument_specs\.yml$|ai_system.containers.\1|p' | sort)
    if [ -z "$modules" ] || [ -z "$roles" ]; then die "no modules or roles in the tarball"; fi
    in_run_dir ansible-doc -l ai_system.containers --json >"$work/list.json" \
        || die "ansible-doc -l ai_system.containers"
    # shellcheck disable=SC2086  # one argument per plugin
    in_run_dir ansible-doc -t module --json $modules >"$work/modules.json" \
        || die "ansible-doc -t module of the collection's modules"
    # shellcheck disable=SC2086
    in_run_dir ansible-doc -t role --json $roles >"$work/roles.json" \
        || die "ansible-doc -t role of the collection's roles"
    "$bin/python" - "$work" "$modules" "$roles" <<'PY'
import json
import sys

work, modules, roles = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
listed = set(json.load(open(work + "/list.json")))
module_docs = json.load(open(work + "/modules.json"))
role_docs = json.load(open(work + "/roles.json"))
problems = ["%s: not listed by ansible-doc -l" % m for m in modules if m not in listed]
for m in modules:
    doc = module_docs.get(m, {})
    if not doc.get("doc", {}).get("short_description") or not doc.get("examples"):
        problems.append("%s: no documentation or examples" % m)
    elif "return" not in doc:
        problems.append("%s: no RETURN documentation" % m)
for r in roles:
    if not role_docs.get(r, {}).get("entry_points", {}).get("main", {}).get("short_description"):
        problems.append("%s: no documented main entry point" % r)
if problems:
    print("\n".join("  " + p for p in problems), file=sys.stderr)
    sys.exit(1)
PY
}

syntax() {
    local pb
    for pb in site verify render; do
        in_run_dir ansible-playbook -i "$repo/inventory/production" --syntax-check \
            "ai_system.containers.$pb" >"$work/syntax-$pb.log" 2>&1 \
            || { cat "$work/syntax-$pb.log" >&2; die "--syntax-check ai_system.containers.$pb"; }
    done
}

use() {
    snapshot >"$work/before"
    # Every task runs on this machine: nothing may reach a real host.
    in_run_dir ansible-playbook -i "$repo/inventory/production" ai_system.containers.render \
        -e ansible_connection=local >"$work/render.log" 2>&1 \
        || { cat "$work/render.log" >&2; die "ansible-playbook ai_system.containers.render"; }
    local host n
    for host in mainpc pc2; do
        n=$(find "$run_dir/build/rendered/$host/quadlet" -name '*.container' 2>/dev/null | wc -l || true)
        [ "$n" -gt 0 ] || die "no ./build/rendered/$host/quadlet/*.container in the folder the render ran in"
    done
    # The report of playbooks/verify.yml is written on the controller under
    # ./reports/ (the report phase alone: nothing runs on a host).
    in_run_dir ansible-playbook -i "$repo/inventory/production" ai_system.containers.verify \
        --tags verify_report -e ansible_connection=local >"$work/verify.log" 2>&1 \
        || { cat "$work/verify.log" >&2; die "ansible-playbook ai_system.containers.verify --tags verify_report"; }
    [ -f "$run_dir/reports/latest.json" ] || die "no ./reports/latest.json in the folder verify ran in"
    local left
    left=$(cd "$run_dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort | tr '\n' ' ')
    [ "$left" = "build reports " ] || die "the runs left more than build/ and reports/ in their folder: $left"
    snapshot >"$work/after"
    diff -u "$work/before" "$work/after" >&2 || die "the installed collection changed while it ran"
}

ee() {
    "$bin/ansible-builder" introspect "$collections" >"$work/introspect.yml" \
        || die "ansible-builder introspect"
    # The collection's controller code needs nothing beyond ansible-core: the
    # introspection must find its (empty) files and add nothing, and no
    # checkout requirement (test tools) may reach an image.
    "$bin/python" - "$work/introspect.yml" <<'PY' || die "ansible-builder introspect found requirements"
import sys
import yaml

data = yaml.safe_load(open(sys.argv[1]))
found = {kind: reqs for kind in ("python", "system") for reqs in [data.get(kind) or {}] if reqs}
if found:
    print("  unexpected requirements: %s" % found, file=sys.stderr)
    sys.exit(1)
PY
    # The example definition, as a user would build it: the tarball under
    # build/collection/ next to it.
    local ee_dir=$work/ee ctx
    mkdir -p "$ee_dir/build/collection"
    cp "$repo/execution-environment.yml" "$ee_dir/"
    cp "$tarball" "$ee_dir/build/collection/"
    ctx=$ee_dir/context
    (cd "$ee_dir" && "$bin/ansible-builder" create -f execution-environment.yml -c "$ctx" \
        --output-filename Containerfile >"$work/ee.log" 2>&1) \
        || { cat "$work/ee.log" >&2; die "ansible-builder create"; }
    if grep -q WARNING "$work/ee.log"; then
        cat "$work/ee.log" >&2
        die "ansible-builder create warned (a build file missing?)"
    fi
    local f
    for f in Containerfile _build/requirements.yml _build/scripts/assemble _build/scripts/introspect.py \
        "_build/collections/$(basename "$tarball")"; do
        [ -f "$ctx/$f" ] || die "the build context lacks $f"
    done
    grep -q "/build/collections/$(basename "$tarball")" "$ctx/_build/requirements.yml" \
        || die "execution-environment.yml installs another tarball than $(basename "$tarball")"
    # The image's ansible-core and ansible-runner are the ones tested here.
    for f in ansible-core ansible-runner; do
        grep -q "$(grep "^$f==" "$repo/requirements.txt")" "$ctx/Containerfile" \
            || die "the image's $f is not the one pinned in requirements.txt"
    done
}

step docs docs
step syntax syntax
step use use
step ee ee
log "all checks passed in $(($(date +%s) - started)) s ($(basename "$tarball"))"
