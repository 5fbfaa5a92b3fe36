# -*- coding: utf-8 -*-
"""The lab inventory's Kubernetes manifests run by Podman's own kube runner.

playbooks/kube.yml writes the manifests; the podman kube play file among them
(podman/ai-system.yaml: ConfigMaps, PersistentVolumeClaims, Deployments) is
played on the lab host mainpc, on a network of its own, beside the deployed
Quadlet units, with the lab's Secret created the Kubernetes way. Every group
must start, its pod's own probe command (the manifest's liveness probe: the
collection's ZMQ probe with the group's policy, or Redis's ping) must pass
inside it and Podman must call it healthy, and a group must reach another
through the Service name its endpoint map gives. ``podman kube down`` must
then remove every pod, volume and the Secret, and leave the Quadlet units
alone.

The file runs on its own or after test_lab_system.py: the fixture deploys
with site.yml when the lab hosts do not have the stack's images yet.
"""

from __future__ import annotations

import time

import pytest
import yaml

from support.ansible_run import run_playbook
from support.inventory import load_inventory_dir
from support.lab import LAB_INVENTORY, is_pod_unit, sh

HOST = "mainpc"
# Podman on the lab hosts (5.4, systemd, cgroup v1) fails to start a pod with
# an init container under systemd's cgroup manager ("unable to create pod
# cgroup ... was already loaded or has a fragment file"); cgroupfs runs it
# (docs/kubernetes.md).
KUBE = ("podman", "--cgroup-manager=cgroupfs", "kube")
NETWORK = "ai-kube-test"
WORKDIR = "/root/ai-kube-test"
IMAGES = ("localhost/ai-system/stand-in-agent:latest", "localhost/ai-system/lab-redis:latest")


def play_file(name):
    return "%s/%s" % (WORKDIR, name)


@pytest.fixture(scope="module")
def manifests(lab, tmp_path_factory):
    """The lab inventory written by playbooks/kube.yml: (folder, podman file objects)."""
    out = tmp_path_factory.mktemp("kube") / "kube"
    run = run_playbook(out.parent / "runner", "playbooks/kube.yml", LAB_INVENTORY,
                       extravars={"ansible_connection": "local", "ai_kube_dir": str(out)})
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    with open(out / "podman" / "ai-system.yaml", encoding="utf-8") as handle:
        docs = list(yaml.safe_load_all(handle))
    return out, docs


@pytest.fixture(scope="module")
def played(lab, lab_plan, manifests):
    """The podman kube play file running on mainpc; down again afterwards."""
    has_podman = lab.exec(HOST, "sh", "-c", "command -v podman", check=False).returncode == 0
    missing = [i for i in IMAGES if not has_podman or
               lab.exec(HOST, "podman", "image", "exists", i, check=False).returncode != 0]
    if missing:
        run = lab.playbook()
        assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    out, docs = manifests
    secrets = load_inventory_dir(LAB_INVENTORY)[HOST]["ai_secrets"]
    secret_docs = [{"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": name.replace("_", "-")},
                    "stringData": {"value": value}} for name, value in sorted(secrets.items())]
    secret_file = out.parent / "secrets.yaml"
    secret_file.write_text(yaml.safe_dump_all(secret_docs))
    lab.exec(HOST, "mkdir", "-p", WORKDIR)
    sh(["podman", "cp", str(out / "podman" / "ai-system.yaml"),
        "%s:%s/ai-system.yaml" % (HOST, WORKDIR)])
    sh(["podman", "cp", str(secret_file), "%s:%s/secrets.yaml" % (HOST, WORKDIR)])
    lab.exec(HOST, "podman", "network", "create", "--ignore", NETWORK)
    try:
        lab.exec(HOST, *KUBE, "play", play_file("secrets.yaml"))
        start = time.monotonic()
        lab.exec(HOST, *KUBE, "play", "--network", NETWORK,
                 play_file("ai-system.yaml"), timeout=600)
        yield docs, time.monotonic() - start
    finally:
        down = lab.exec(HOST, *KUBE, "down", "--force",
                        play_file("ai-system.yaml"), check=False, timeout=300)
        lab.exec(HOST, *KUBE, "down", play_file("secrets.yaml"), check=False)
        left = set(lab.exec(HOST, "podman", "volume", "ls", "--format", "{{.Name}}")
                   .stdout.split()) & leftover_names(docs, secret_docs)
        if left:
            lab.exec(HOST, "podman", "volume", "rm", *sorted(left), check=False)
        lab.exec(HOST, "podman", "network", "rm", "--force", NETWORK, check=False)
        lab.exec(HOST, "rm", "-rf", WORKDIR, check=False)
        assert down.returncode == 0, down.stderr


def leftover_names(docs, secret_docs):
    """The volumes Podman makes for ConfigMaps and Secrets, which kube down leaves."""
    return {d["metadata"]["name"] for d in list(docs) + list(secret_docs)
            if d["kind"] in ("ConfigMap", "Secret")}


def deployments(docs):
    return [d for d in docs if d["kind"] == "Deployment"]


def probe_command(deployment):
    box = deployment["spec"]["template"]["spec"]["containers"][0]
    return box["livenessProbe"]["exec"]["command"]


def container_of(deployment):
    name = deployment["metadata"]["name"]
    return "%s-pod-%s" % (name, name)


def test_the_podman_file_holds_every_group_of_the_lab(manifests, lab_plan):
    dummy, docs = manifests
    groups = {u["group"] for h in lab_plan["hosts"].values() for u in h["units"]
              if not is_pod_unit(u)}
    assert {d["metadata"]["name"] for d in deployments(docs)} == groups
    assert {d["kind"] for d in docs} == {"ConfigMap", "PersistentVolumeClaim", "Deployment"}


def test_every_group_starts_and_its_probe_passes_inside_its_pod(lab, played):
    docs, seconds = played
    print("podman kube play of %d groups: %.0f s" % (len(deployments(docs)), seconds))
    pods = lab.exec(HOST, "podman", "pod", "ps", "--format", "{{.Name}} {{.Status}}").stdout
    status = dict(line.split(" ", 1) for line in pods.splitlines() if line.strip())
    for deployment in deployments(docs):
        assert status.get(deployment["metadata"]["name"] + "-pod") == "Running", pods
    for deployment in deployments(docs):
        command = probe_command(deployment)
        proc = lab.exec(HOST, "podman", "exec", container_of(deployment), *command, check=False)
        assert proc.returncode == 0, (deployment["metadata"]["name"], proc.stdout, proc.stderr)
        if "zmq_health.py" in " ".join(command):
            agents = [a for a in yaml.safe_load(
                [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] ==
                 deployment["metadata"]["name"] + "-endpoints"][0]["data"]["endpoints.json"]
            )["agents"].values() if a["socket"] == "rep" and a["health_port"]]
            lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
            assert len(lines) == len(agents) and agents, proc.stdout
            assert all(ln.split()[0] in ("OK", "DEGRADED") for ln in lines), proc.stdout
        else:
            assert proc.stdout.strip() == "PONG"


def test_podman_runs_the_probes_as_health_checks_and_calls_every_group_healthy(lab, played):
    docs, dummy = played
    pending = [container_of(d) for d in deployments(docs)]
    deadline = time.monotonic() + 180
    while pending and time.monotonic() < deadline:
        pending = [c for c in pending if lab.health(HOST, c) != "healthy"]
        if pending:
            time.sleep(5)
    assert not pending, "not healthy: %s" % ", ".join(pending)
    inspect = lab.exec(HOST, "podman", "inspect", "--format", "{{json .Config.Healthcheck.Test}}",
                       "core-services-pod-core-services").stdout
    assert "zmq_health.py" in inspect and "/etc/ai-system/endpoints.json" in inspect


def test_a_group_reaches_another_by_the_service_name_of_its_endpoint_map(lab, played):
    docs, dummy = played
    proc = lab.exec(HOST, "podman", "exec", "pc2-memory-system-pod-pc2-memory-system",
                    "python3", "/usr/local/lib/ai-system/zmq_health.py", "--timeout", "3",
                    "core-services:7120/main", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    secret = lab.exec(HOST, "podman", "exec", "security-auth-pod-security-auth", "cat",
                      "/run/secrets/auth_signing_key").stdout
    assert secret == load_inventory_dir(LAB_INVENTORY)[HOST]["ai_secrets"]["ai_auth_signing_key"]


def test_kube_down_removes_every_pod_and_claim_and_leaves_the_units(lab, played, lab_plan):
    docs, dummy = played
    lab.exec(HOST, *KUBE, "down", "--force", play_file("ai-system.yaml"),
             timeout=300)
    pods = lab.exec(HOST, "podman", "pod", "ps", "-q").stdout
    assert pods.strip() == ""
    volumes = set(lab.exec(HOST, "podman", "volume", "ls", "--format", "{{.Name}}")
                  .stdout.split())
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert len(claims) == 2 and not volumes & claims
    # Podman keeps the volumes it made for the ConfigMaps (docs/kubernetes.md):
    # exactly those are left, and removed by name.
    configmaps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    assert volumes & configmaps == configmaps
    lab.exec(HOST, "podman", "volume", "rm", *sorted(configmaps))
    volumes = set(lab.exec(HOST, "podman", "volume", "ls", "--format", "{{.Name}}")
                  .stdout.split())
    assert not volumes & configmaps
    units = [u["service"] for u in lab_plan["hosts"][HOST]["units"]]
    props = lab.unit_props(HOST, units)
    assert all(p["ActiveState"] == "active" for p in props.values()), props
