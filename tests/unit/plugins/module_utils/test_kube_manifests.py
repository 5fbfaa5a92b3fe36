# -*- coding: utf-8 -*-
"""The stack as Kubernetes manifests: every object validated against the
Kubernetes API schemas (kubernetes-validate, offline, strict), the production
and lab inventories against golden files, and what the mapping promises.

Golden files live in tests/fixtures/kube/<inventory>/, exactly as
playbooks/kube.yml writes them (with a placeholder for the probe's source),
each name with ``.golden`` added (a YAML file holds one document, for the
linters).
After an intended change, regenerate them with

    AI_SYSTEM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/plugins/module_utils/test_kube_manifests.py -k golden

and review the diff.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time

import kubernetes_validate
import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.action import kube_manifests as action
from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_health
from ansible_collections.ai_system.containers.plugins.module_utils.kube.kube_manifests import (
    kube_stack, podman_documents,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import plan_stack
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
GOLDEN = os.path.join(REPO, "tests", "fixtures", "kube")
# The newest Kubernetes release whose schemas kubernetes-validate ships.
KUBE_VERSION = "1.37.0"
PROBE = "# the collection's zmq_health.py\n"
SUFFIX = ".golden"


def inventory_of(name):
    return load_inventory_dir(os.path.join(REPO, "inventory", name))


def stack_of(hostvars, **options):
    stack = kube_stack(hostvars, PROBE, options)
    assert stack.ok, [str(p) for p in stack.problems]
    return stack


def objects(stack):
    """(kind, name) -> object."""
    return {(d["kind"], d["metadata"]["name"]): d for d in stack.documents()}


def container(stack, group):
    docs = objects(stack)
    work = docs.get(("Deployment", group)) or docs[("StatefulSet", group)]
    return work["spec"]["template"]["spec"], work["spec"]["template"]["spec"]["containers"][0]


def validate(doc):
    kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


# -- schemas ------------------------------------------------------------------

def test_the_validator_carries_its_schemas_and_rejects_a_wrong_object():
    assert KUBE_VERSION in kubernetes_validate.utils.all_versions()
    wrong = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
             "spec": {"replicas": "one", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(wrong)
    unknown_field = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                     "data": {}, "extra": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(unknown_field)


@pytest.mark.parametrize("name", ["production", "lab"])
def test_every_object_of_the_inventories_validates(name):
    stack = stack_of(inventory_of(name))
    docs = stack.documents() + podman_documents(stack)
    kinds = {d["kind"] for d in docs}
    assert kinds == {"Namespace", "ConfigMap", "Service", "NetworkPolicy", "Deployment",
                     "StatefulSet", "PersistentVolumeClaim"}
    for doc in docs:
        validate(doc)


def test_every_object_of_a_small_inventory_with_all_options_validates(inventory):
    stack = stack_of(inventory, namespace="lab-ai", host_label="", gpu_runtime_class="",
                     gpu_memory_label="", request_percent=100, volume_size="5Gi",
                     audio_resource="squat.ai/audio")
    for doc in stack.documents() + podman_documents(stack):
        validate(doc)


# -- golden files -------------------------------------------------------------

@pytest.mark.parametrize("name", ["production", "lab"])
def test_golden_files(name):
    dummy, files = action.render_files(inventory_of(name), {}, PROBE)
    folder = os.path.join(GOLDEN, name)
    if os.environ.get("AI_SYSTEM_UPDATE_GOLDEN"):
        for rel, text in files.items():
            path = os.path.join(folder, rel + SUFFIX)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
    found = {}
    for root, dummy_dirs, names in os.walk(folder):
        for fname in names:
            path = os.path.join(root, fname)
            with open(path, encoding="utf-8") as handle:
                found[os.path.relpath(path, folder)[:-len(SUFFIX)]] = handle.read()
    assert sorted(found) == sorted(files)
    for rel, text in files.items():
        assert found[rel] == text, "%s differs from its golden file (see this file's docstring)" \
            % rel
        for doc in yaml.safe_load_all(text):
            if doc["kind"] != "Kustomization":
                validate(doc)


def test_yaml_reads_back_as_the_objects(inventory):
    stack = stack_of(inventory)
    dummy, files = action.render_files(inventory, {}, PROBE)
    for name, docs in stack.files.items():
        assert list(yaml.safe_load_all(files[name])) == [dict(d) for d in docs]
    kustom = yaml.safe_load(files["kustomization.yaml"])
    assert kustom["resources"] == list(stack.files)
    assert kustom["namespace"] == "ai-system"


def test_the_pods_mount_the_collections_own_probe():
    source = action.probe_source()
    with open(zmq_health.__file__, encoding="utf-8") as handle:
        assert source == handle.read()
    dummy, files = action.render_files(inventory_of("lab"), {}, source)
    probe = yaml.safe_load(files["probe.yaml"])
    assert probe["data"]["zmq_health.py"] == source
    assert "def main(argv)" in probe["data"]["wait_for_services.py"]


# -- what maps to what --------------------------------------------------------

def test_endpoint_map_and_environment_point_at_service_names():
    stack = stack_of(inventory_of("production"))
    cm = objects(stack)[("ConfigMap", "pc2-memory-system-endpoints")]
    doc = json.loads(cm["data"]["endpoints.json"])
    twin = doc["endpoints"]["SystemDigitalTwin"]
    assert twin["address"] == "core-services" and twin["url"] == "tcp://core-services:7120"
    assert doc["agents"]["MemoryOrchestratorService"]["health_port"] == 7141
    dummy, box = container(stack, "pc2-memory-system")
    env = {e["name"]: e.get("value") for e in box["env"]}
    assert env["AI_ENDPOINT_SYSTEM_DIGITAL_TWIN"] == "tcp://core-services:7120"
    assert "192.168.100.16" not in json.dumps(stack.documents())
    service = objects(stack)[("Service", "core-services")]
    assert [p["port"] for p in service["spec"]["ports"]] == [7120]


def test_network_policy_admits_only_declared_consumers_and_dependents():
    stack = stack_of(inventory_of("production"))
    policy = objects(stack)[("NetworkPolicy", "pc2-memory-system")]["spec"]
    rules = {r["ports"][0]["port"]: r["from"][0]["podSelector"]["matchExpressions"][0]["values"]
             for r in policy["ingress"]}
    # MemoryOrchestratorService (7140) is used by memory-system; CacheManager
    # (7102) and UnifiedMemoryReasoningAgent (7105) by utility-services; the
    # dependents wait on the first Service port.
    assert rules[7140] == ["memory-system"]
    assert rules[7105] == ["utility-services"]
    assert rules[7102] == ["pc2-ai-models", "pc2-ai-monitoring", "pc2-user-services",
                           "utility-services"]
    assert policy["policyTypes"] == ["Ingress"]
    leaf = objects(stack)[("NetworkPolicy", "learning-knowledge")]["spec"]
    assert leaf["ingress"] == []  # nobody connects to it: nothing gets in
    redis = objects(stack)[("NetworkPolicy", "pc2-redis")]["spec"]["ingress"]
    assert redis == [{"from": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/part-of": "ai-system"}}}], "ports": [{"protocol": "TCP", "port": 6379}]}]


def test_gpu_groups_ask_for_the_gpu_and_are_pinned_by_vram():
    stack = stack_of(inventory_of("production"))
    pod, box = container(stack, "ai-models-gpu-services")
    assert box["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["runtimeClassName"] == "nvidia"
    exprs = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["16383"]} in exprs
    assert {"key": "ai-system.io/host", "operator": "In", "values": ["mainpc"]} in exprs
    env = {e["name"]: e["value"] for e in box["env"] if "value" in e}
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility,video"
    pod2, dummy = container(stack, "pc2-ai-models")
    assert pod2["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][1]["values"] == ["10239"]
    plain_pod, plain_box = container(stack, "core-services")
    assert "runtimeClassName" not in plain_pod and "tolerations" not in plain_pod
    assert "nvidia.com/gpu" not in plain_box["resources"].get("limits", {})


def test_gpu_and_host_labels_are_configurable():
    stack = stack_of(inventory_of("production"), gpu_resource="example.com/gpu",
                     gpu_runtime_class="", gpu_memory_label="example.com/vram",
                     host_label="")
    pod, box = container(stack, "ai-models-gpu-services")
    assert box["resources"]["limits"]["example.com/gpu"] == 1
    assert "runtimeClassName" not in pod
    exprs = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"]
    assert exprs == [{"key": "example.com/vram", "operator": "Gt", "values": ["16383"]}]
    pod, dummy = container(stack, "core-services")
    assert "affinity" not in pod  # no host label: the scheduler places it anywhere


def test_without_host_labels_the_vram_budgets_are_said_to_no_longer_hold():
    assert not [w for w in stack_of(inventory_of("production")).warnings if "VRAM" in w]
    warnings = stack_of(inventory_of("production"), host_label="").warnings
    assert [w for w in warnings if w.startswith(
        "GPU groups ai-models-gpu-services, language-processing, pc2-ai-models are not pinned")]


def test_the_wait_script_waits_for_every_port_and_gives_up_after_its_time(tmp_path):
    script = tmp_path / "wait_for_services.py"
    script.write_text(yaml.safe_load(action.render_files(inventory_of("lab"), {}, PROBE)[1][
        "probe.yaml"])["data"]["wait_for_services.py"])
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()  # nothing listens there now
    try:
        port = server.getsockname()[1]
        ok = subprocess.run([sys.executable, str(script), "5", "127.0.0.1:%d" % port],
                            capture_output=True, text=True, timeout=30, check=False)
        assert ok.returncode == 0 and ok.stdout == "127.0.0.1:%d answers\n" % port
        start = time.monotonic()
        late = subprocess.run([sys.executable, str(script), "3", "127.0.0.1:%d" % port,
                               "127.0.0.1:%d" % closed_port],
                              capture_output=True, text=True, timeout=30, check=False)
        assert late.returncode == 1
        assert "127.0.0.1:%d did not answer" % closed_port in late.stdout
        assert 3 <= time.monotonic() - start < 15
    finally:
        server.close()


def test_resources_hardening_and_tmpfs():
    stack = stack_of(inventory_of("production"))
    dummy, box = container(stack, "pc2-memory-system")
    assert box["resources"] == {"limits": {"cpu": "1", "memory": "2Gi"},
                                "requests": {"cpu": "250m", "memory": "512Mi"}}
    assert box["securityContext"] == {"allowPrivilegeEscalation": False,
                                      "readOnlyRootFilesystem": True,
                                      "capabilities": {"drop": ["ALL"]}}
    mounts = {m["mountPath"]: m for m in box["volumeMounts"]}
    for path in ("/run", "/tmp", "/var/tmp"):
        assert path in mounts
    assert mounts["/app/config"]["readOnly"] is True
    assert mounts["/etc/ai-system"]["readOnly"] is True
    redis_pod, redis = container(stack, "pc2-redis")
    assert redis["securityContext"]["capabilities"]["add"] == ["SETUID", "SETGID", "CHOWN"]
    stack50 = stack_of(inventory_of("production"), request_percent=50)
    assert container(stack50, "pc2-memory-system")[1]["resources"]["requests"] == {
        "cpu": "500m", "memory": "1Gi"}


def test_named_volumes_make_a_statefulset_and_host_paths_stay_host_paths():
    stack = stack_of(inventory_of("production"), volume_size="3Gi")
    sts = objects(stack)[("StatefulSet", "mainpc-redis")]["spec"]
    assert sts["serviceName"] == "mainpc-redis"
    assert sts["volumeClaimTemplates"][0]["metadata"]["name"] == "mainpc-redis-data"
    assert sts["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "3Gi"
    pod, dummy = container(stack, "core-services")
    paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert paths == {"/srv/ai-system/logs", "/srv/ai-system/models", "/srv/ai-system/data",
                     "/srv/ai-system/config"}
    audio_pod, audio = container(stack, "audio-processing")
    assert {"name": "device-0", "hostPath": {"path": "/dev/snd"}} in audio_pod["volumes"]
    with_plugin = stack_of(inventory_of("production"), audio_resource="squat.ai/audio")
    pod, box = container(with_plugin, "audio-processing")
    assert box["resources"]["limits"]["squat.ai/audio"] == 1
    assert all(v.get("hostPath", {}).get("path") != "/dev/snd" for v in pod["volumes"])


def test_probes_run_the_zmq_probe_with_the_units_intervals():
    stack = stack_of(inventory_of("production"))
    dummy, box = container(stack, "core-services")
    command = ["python3", "/usr/local/lib/ai-system/zmq_health.py", "--timeout", "3",
               "--config", "/etc/ai-system/endpoints.json"]
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert box[kind]["exec"]["command"] == command
        assert box[kind]["periodSeconds"] == 15 and box[kind]["timeoutSeconds"] == 5
    assert box["livenessProbe"]["failureThreshold"] == 3
    assert box["startupProbe"]["failureThreshold"] == 20  # ai_start_timeout 300 s / 15 s
    dummy, redis = container(stack, "mainpc-redis")
    assert redis["livenessProbe"]["exec"]["command"] == ["/bin/sh", "-c", "redis-cli ping"]


def test_probe_intervals_and_failure_action_follow_the_inventory(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["health"] = {
        "interval": "1m30s", "timeout": "2500ms", "retries": 5, "on_failure": "none"}
    dummy, box = container(stack_of(inventory), "core")
    assert box["readinessProbe"]["periodSeconds"] == 90
    assert box["readinessProbe"]["timeoutSeconds"] == 3
    assert box["readinessProbe"]["failureThreshold"] == 5
    assert "livenessProbe" not in box  # on_failure none: a failing group is not restarted
    # Agents without health ports: the unit has no health check, nor the pod probes.
    inventory["mainpc"]["ai_groups"]["core"]["health"] = {}
    inventory["mainpc"]["ai_groups"]["core"]["agents"] = {
        "Twin": {"port": 7120}, "Coordinator": {"port": 7121}}
    dummy, box = container(stack_of(inventory), "core")
    assert not {"startupProbe", "readinessProbe", "livenessProbe"} & set(box)


def test_depends_on_waits_for_the_dependencies_services():
    stack = stack_of(inventory_of("production"))
    pod, dummy = container(stack, "language-processing")
    init = pod["initContainers"][0]
    assert init["command"][:3] == ["python3", "/usr/local/lib/ai-system/wait_for_services.py",
                                   "300"]
    assert init["command"][3:] == ["core-services:7120", "memory-system:5574",
                                   "utility-services:5650", "ai-models-gpu-services:5570"]
    assert init["image"] == "localhost/ai-system/mainpc-agents:latest"
    for dep in ("core-services", "memory-system", "utility-services", "ai-models-gpu-services"):
        assert ("Service", dep) in objects(stack)
    pod, dummy = container(stack, "mainpc-redis")
    assert "initContainers" not in pod


def test_secrets_are_named_never_written(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["secrets"] = [
        {"name": "token", "type": "env", "target": "API_TOKEN"}]
    stack = stack_of(inventory)
    text = json.dumps(stack.documents())
    assert "s3cr3t-value" not in text
    assert not [d for d in stack.documents() if d["kind"] == "Secret"]
    pod, box = container(stack, "models")
    volume = [v for v in pod["volumes"] if "secret" in v][0]["secret"]
    assert volume["secretName"] == "token"
    assert volume["items"] == [{"key": "value", "path": "token"}]
    assert {"name": "secret-0", "mountPath": "/run/secrets",
            "readOnly": True} in box["volumeMounts"]
    dummy, core = container(stack, "core")
    assert {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "token", "key": "value"}}} in core["env"]
    prod = stack_of(inventory_of("production"))
    pod, dummy = container(prod, "security-auth")
    assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == \
        ["ai-auth-signing-key"]


# -- refusals -----------------------------------------------------------------

def test_a_raw_device_is_refused_for_kube_only(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["devices"] = ["/dev/video0", "/dev/snd"]
    assert plan_stack(inventory).ok  # the Quadlet output still works
    stack = kube_stack(inventory, PROBE)
    assert not stack.ok and not stack.files
    assert [str(p) for p in stack.problems] == [
        "host mainpc, group core, field devices: device /dev/video0 cannot be expressed in "
        "Kubernetes manifests: a pod gets devices from a device plugin, and only the sound "
        "device (/dev/snd) is mapped -- remove it from devices for the Kubernetes output (an "
        "ai_group_overrides entry), or expose it with a device plugin"]


def test_what_a_cluster_cannot_express_is_refused_located(inventory):
    groups = inventory["mainpc"]["ai_groups"]
    groups["core"]["quadlet_options"] = {"Service": {"TimeoutStopSec": 30}}
    groups["core"]["volumes"] = ["/srv/x:/x:nosuid"]
    groups["models"]["security"] = {"userns": "keep-id"}
    assert plan_stack(inventory).ok
    problems = {(p.group, p.field): p.message for p in kube_stack(inventory, PROBE).problems}
    assert problems[("core", "quadlet_options")].startswith(
        "quadlet_options (Service.TimeoutStopSec) have no Kubernetes equivalent")
    assert problems[("core", "volumes")] == "mount option(s) nosuid of /x have no Kubernetes equivalent"
    assert problems[("models", "security.userns")].startswith("security.userns 'keep-id'")
    assert len(problems) == 3


def test_bad_options_are_refused(inventory):
    stack = kube_stack(inventory, PROBE, {"namespace": "AI", "request_percent": 0,
                                          "volume_size": "lots", "colour": "red"})
    assert sorted(p.field for p in stack.problems) == [
        "ai_kube_colour", "ai_kube_namespace", "ai_kube_request_percent", "ai_kube_volume_size"]


def test_inventory_problems_come_first_and_nothing_is_built(reference):
    stack = kube_stack(reference, PROBE)
    assert len(stack.problems) == 6 and not stack.files


# -- the podman kube play variant ----------------------------------------------

def test_podman_variant_runs_statefulsets_as_deployments_with_claims():
    stack = stack_of(inventory_of("lab"))
    docs = podman_documents(stack)
    kinds = [d["kind"] for d in docs]
    assert set(kinds) == {"ConfigMap", "Deployment", "PersistentVolumeClaim"}
    assert kinds.count("Deployment") == 17
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    assert names == [g for dummy, g in stack.order]  # start order
    claim = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    # Named as a cluster names them, never like the Quadlet volumes.
    assert [c["metadata"]["name"] for c in claim] == ["mainpc-redis-data-mainpc-redis-0",
                                                      "pc2-redis-data-pc2-redis-0"]
    redis = [d for d in docs if d["metadata"]["name"] == "mainpc-redis" and
             d["kind"] == "Deployment"][0]
    assert {"name": "mainpc-redis-data", "persistentVolumeClaim": {
        "claimName": "mainpc-redis-data-mainpc-redis-0"}} in \
        redis["spec"]["template"]["spec"]["volumes"]
    # The cluster objects are left as they were.
    assert objects(stack)[("StatefulSet", "mainpc-redis")]["spec"]["volumeClaimTemplates"]


def test_the_model_is_not_changed_by_building(inventory):
    before = copy.deepcopy(inventory)
    stack_of(inventory)
    assert inventory == before
