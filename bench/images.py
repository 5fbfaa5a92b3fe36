# -*- coding: utf-8 -*-
"""The image pipeline on the two-host lab: what a build and a delivery cost.

Runs on the two-host lab (root, Podman, `make images` first, which includes
the lab registry's image), holding the machine's lab lock for the whole run.
In one run it starts a fresh lab and the lab registry, writes the pipeline
inventory (scripts/lab/pipeline-inventory.py) around a copy of the stand-in
agent's build context, and prints side by side:

  * the first build + delivery: the images play (build, contract check, push)
    and each host's pull, then the whole deploy (site.yml without verify);
  * what a converged images phase adds: wall clock of `--tags validate,images`
    minus `--tags validate` (median of 3 each), per host; goal <= 1 s per host;
  * after a one-file source change (agent.py): the bytes the registry sent to
    each host while it pulled (its own access log, `http.response.written`),
    against the size of the layers that changed (compressed, from the
    registry's manifests) and of the whole image as a `podman save` archive;
    goal <= 2x the changed layers. Then the same over the Ansible connection
    (no registry): the bytes of the OCI layout files copied to each host (the
    layer blobs its storage lacks, the manifest, config and index) after a
    one-file change, against the same changed layer uncompressed.

The first build is the stand-in's first build from this source digest: the
base layers (python-zmq-base) come from the controller's layer cache, as they
do for any rebuild of an application whose base did not change.

Exit status 1 when a run fails or the converged run changes something, else
0, goals met or not.

    python3 bench/images.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from support.ansible_run import run_playbook  # noqa: E402
from support.lab import LAB_IMAGES, lab_lock, molecule, sh  # noqa: E402

HOSTS = ("mainpc", "pc2")
HOST_IPS = {"10.89.100.16": "mainpc", "10.89.100.17": "pc2"}
DEPLOY_TAGS = ["validate", "images", "podman", "nvidia_toolkit", "stack"]
BUILD_TASK = "Build every image whose sources changed, check its contract, push or archive it"
PULL_TASK = ("Load or pull the missing images, remove the loaded archives, stop naming those "
             "still missing")
REGISTRY_SH = os.path.join(REPO, "scripts", "lab", "registry.sh")
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, " \
                 "application/vnd.docker.distribution.manifest.v2+json"


def run(private, inventory, tags):
    start = time.perf_counter()
    result = run_playbook(private, "site.yml", inventory, tags=tags,
                          envvars={"AI_SYSTEM_LAB_IMAGES": LAB_IMAGES})
    return time.perf_counter() - start, result


def failure_text(result):
    return "; ".join("%s: %s: %s" % (f.get("host"), f.get("task"), (f.get("res") or {}).get("msg"))
                     for f in result.failures()) or "rc %s" % result.rc


def only_result(result, task):
    """The result of a task that runs once (on the controller): exactly one."""
    results = result.task_results(task)
    if len(results) != 1:
        raise SystemExit("expected one result of %r, got %d" % (task, len(results)))
    return next(iter(results.values()))


def task_seconds(result, task):
    return {host: seconds for name, host, seconds in result.durations() if name == task}


def manifest_layers(registry, ref):
    repo, tag = ref[len(registry) + 1:].rsplit(":", 1)
    request = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (registry, repo, tag),
                                     headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=10) as reply:
        manifest = json.load(reply)
    return {layer["digest"]: layer["size"] for layer in manifest["layers"]}, manifest["config"]


def registry_bytes_sent(since):
    """Bytes the registry wrote per lab host in answer to GETs since `since` (RFC 3339)."""
    logs = subprocess.run(["podman", "logs", "--since", since, "ai-system-lab-registry"],
                          capture_output=True, text=True, check=True)
    sent = {host: 0 for host in HOSTS}
    for line in (logs.stdout + logs.stderr).splitlines():
        if "response completed" not in line or "http.request.method=GET" not in line:
            continue
        addr = re.search(r"http\.request\.remoteaddr=\"?([0-9.]+):", line)
        written = re.search(r"http\.response\.written=(\d+)", line)
        if addr and written and addr.group(1) in HOST_IPS:
            sent[HOST_IPS[addr.group(1)]] += int(written.group(1))
    return sent


def archive_size(ref):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "image.tar")
        sh(["podman", "save", "--output", path, ref], timeout=300)
        return os.path.getsize(path)


def mib(n):
    if n < 1048576:
        return "%.1f KiB (%d bytes)" % (n / 1024.0, n)
    return "%.2f MiB" % (n / 1048576.0)


def verdict(met):
    return "met" if met else "NOT met"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-images-")
    context = os.path.join(tmp, "stand-in-agent")
    shutil.copytree(os.path.join(REPO, "images", "stand-in-agent"), context)
    # A source digest no earlier run built: this run's first build is a real one.
    with open(os.path.join(context, "agent.py"), "a") as handle:
        handle.write("\n# bench/images.py %s\n" % time.time())
    inventory = os.path.join(tmp, "inventory")
    status = 0
    with lab_lock():
        molecule("destroy")
        molecule("create")
        try:
            sh(["bash", REGISTRY_SH, "start"], timeout=120)
            sh(["bash", REGISTRY_SH, "trust"], timeout=60)
            registry = sh(["bash", REGISTRY_SH, "address"]).stdout.strip()
            sh([sys.executable, os.path.join(REPO, "scripts", "lab", "pipeline-inventory.py"),
                inventory, "--context", context])

            # 1. First build + delivery, inside the first deploy.
            wall, first = run(os.path.join(tmp, "r1"), inventory, DEPLOY_TAGS)
            if first.rc != 0:
                print("first deploy failed: %s" % failure_text(first))
                return 1
            build = task_seconds(first, BUILD_TASK)
            pull = task_seconds(first, PULL_TASK)
            built = only_result(first, BUILD_TASK)
            ref = built["images"]["stand-in-agent"]["ref"]

            # 2. What a converged images phase adds.
            def median_wall(tags, n=3):
                times = []
                for i in range(n):
                    seconds, result = run(os.path.join(tmp, "c-%s-%d" % ("-".join(tags), i)),
                                          inventory, tags)
                    if result.rc != 0 or any(result.count("changed", h) for h in HOSTS):
                        raise SystemExit("converged run %s changed or failed: %s"
                                         % (tags, failure_text(result)))
                    times.append(seconds)
                return statistics.median(times)
            only_validate = median_wall(["validate"])
            with_images = median_wall(["validate", "images"])
            added = max(0.0, with_images - only_validate)
            converged_wall, converged = run(os.path.join(tmp, "r2"), inventory, DEPLOY_TAGS)
            converged_changes = {h: converged.count("changed", h) for h in HOSTS}
            if any(converged_changes.values()):
                status = 1

            # 3. A one-file source change: bytes that reach each host.
            old_layers, dummy = manifest_layers(registry, ref)
            with open(os.path.join(context, "agent.py"), "a") as handle:
                handle.write("# one changed line\n")
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
            change_wall, change = run(os.path.join(tmp, "r3"), inventory, DEPLOY_TAGS)
            if change.rc != 0:
                print("deploy after the change failed: %s" % failure_text(change))
                return 1
            rebuilt = only_result(change, BUILD_TASK)
            new_ref = rebuilt["images"]["stand-in-agent"]["ref"]
            new_layers, config = manifest_layers(registry, new_ref)
            changed_layers = {d: s for d, s in new_layers.items() if d not in old_layers}
            changed_size = sum(changed_layers.values()) + config["size"]
            sent = registry_bytes_sent(since)
            whole = archive_size(new_ref)

            # 4. The same over the Ansible connection, without a registry.
            sh([sys.executable, os.path.join(REPO, "scripts", "lab", "pipeline-inventory.py"),
                inventory, "--context", context, "--no-registry",
                "--archive-dir", os.path.join(tmp, "layouts")])
            dummy, switched = run(os.path.join(tmp, "r4"), inventory, DEPLOY_TAGS)
            if switched.rc != 0:
                print("deploy without the registry failed: %s" % failure_text(switched))
                return 1
            built4 = only_result(switched, BUILD_TASK)
            old_layout = built4["layouts"][built4["images"]["stand-in-agent"]["ref"]]
            with open(os.path.join(context, "agent.py"), "a") as handle:
                handle.write("# one more changed line\n")
            conn_wall, conn = run(os.path.join(tmp, "r5"), inventory, DEPLOY_TAGS)
            if conn.rc != 0:
                print("deploy after the change (no registry) failed: %s" % failure_text(conn))
                return 1
            built5 = only_result(conn, BUILD_TASK)
            conn_ref = built5["images"]["stand-in-agent"]["ref"]
            layout = built5["layouts"][conn_ref]
            fresh = [d for d in layout["layers"] if d not in old_layout["layers"]]
            conn_layer = sum(os.path.getsize(os.path.join(layout["dir"], "blobs", "sha256",
                                                          d.split(":", 1)[1])) for d in fresh)
            conn_sent = {}
            for host, res in conn.task_results("Find the images that are not on the host yet").items():
                conn_sent[host] = sum(os.path.getsize(os.path.join(layout["dir"], f))
                                      for entry in res["layout"] for f in entry["files"])
        finally:
            if not args.keep:
                sh(["bash", REGISTRY_SH, "stop"], timeout=120, check=False)
                molecule("destroy")

    print("Image pipeline on the lab (stand-in agent, %s)" % ref.rsplit("/", 1)[-1])
    print()
    print("%-58s %s" % ("first build (+ contract check + push), controller",
                        "%.1f s" % max(build.values())))
    for host in HOSTS:
        print("%-58s %s" % ("first delivery to %s (registry pull)" % host, "%.1f s" % pull[host]))
    print("%-58s %s" % ("first deploy, whole (site.yml without verify)", "%.1f s" % wall))
    print()
    per_host = added / len(HOSTS)
    print("%-58s %s" % ("converged images phase adds, whole run (median of 3)", "%.2f s" % added))
    print("%-58s %s  goal <= 1 s: %s" % ("  per host", "%.2f s" % per_host,
                                         verdict(per_host <= 1.0)))
    print("%-58s %s  changed: %s" % ("converged deploy (site.yml without verify)",
                                     "%.1f s" % converged_wall, converged_changes))
    print()
    print("after a one-file change of agent.py (%s):" % new_ref.rsplit("/", 1)[-1])
    print("%-58s %s" % ("  changed layers + config (compressed, registry)", mib(changed_size)))
    print("%-58s %s" % ("  whole image as a podman save archive", mib(whole)))
    for host in HOSTS:
        ratio = sent[host] / float(changed_size) if changed_size else float("inf")
        print("%-58s %s  = %.2fx the changed layers; goal <= 2x: %s" % (
            "  bytes the registry sent to %s" % host, mib(sent[host]), ratio,
            verdict(ratio <= 2.0)))
    print("%-58s %s" % ("  rebuild + push + pull + restart, whole run", "%.1f s" % change_wall))
    print()
    print("over the Ansible connection (no registry), after a one-file change:")
    print("%-58s %s" % ("  changed layer (uncompressed OCI blob)", mib(conn_layer)))
    for host in HOSTS:
        ratio = conn_sent.get(host, 0) / float(conn_layer) if conn_layer else float("inf")
        print("%-58s %s  = %.2fx the changed layer; goal <= 2x: %s" % (
            "  bytes copied to %s" % host, mib(conn_sent.get(host, 0)), ratio,
            verdict(ratio <= 2.0)))
    print("%-58s %s" % ("  rebuild + copy + pull + restart, whole run", "%.1f s" % conn_wall))
    return status


if __name__ == "__main__":
    sys.exit(main())
