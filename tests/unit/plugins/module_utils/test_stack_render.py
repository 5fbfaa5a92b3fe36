# -*- coding: utf-8 -*-
"""What the plan renders: units, endpoint maps, publishing, firewall, checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.plan.app_environment import env_name
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    config_endpoints,
)
from support.quadlet import QUADLET, needs_quadlet

DEFAULT_POLICY = {"request": {"action": "health_check"}, "healthy": ["ok", "healthy"],
                  "degraded": ["degraded"], "required_keys": ["status"]}


def plan_of(inventory):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    return result["hosts"]


def keys(text, key):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def test_gpu_group_gets_cdi_devices_and_capabilities(inventory):
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-models.container"]
    assert keys(unit, "AddDevice") == ["nvidia.com/gpu=all"]
    assert "Environment=NVIDIA_DRIVER_CAPABILITIES=compute,utility" in unit
    assert "--gpus" not in unit and "/dev/nvidia" not in unit
    assert "UserNS" not in unit


def test_production_units_use_cdi_only(production):
    for host in plan_of(production).values():
        for name, text in host["quadlet"].items():
            assert "--gpus" not in text and "/dev/nvidia" not in text, name
    pc2 = plan_of(production)["pc2"]
    assert keys(pc2["quadlet"]["ai-pc2-ai-models.container"], "AddDevice") == \
        ["nvidia.com/gpu=0"]
    assert pc2["gpu"] == {"required": True, "model": "NVIDIA GeForce RTX 3060",
                          "memory_mib": 12288, "cdi_devices": ["nvidia.com/gpu=0"],
                          "vram_budgets": {"pc2-ai-models": 10240},
                          "vram_reserve_mib": 0, "mps_units": {}, "mps_lab_units": {}}


# -- GPU sharing with CUDA MPS -----------------------------------------------

def mps_plan(inventory, compute_percent=None, selinux=False):
    inventory["mainpc"]["ai_gpu"]["sharing"] = "mps"
    inventory["mainpc"]["ai_selinux"] = selinux
    g = inventory["mainpc"]["ai_groups"]
    g["core"]["gpu"] = {"devices": [0], "vram_mib": 2048}
    if compute_percent is not None:
        g["models"]["gpu"]["compute_percent"] = compute_percent
    return plan_of(inventory)["mainpc"]


def env_of(unit):
    return dict(v.strip('"').split("=", 1) for v in keys(unit, "Environment"))


def test_mps_clients_get_their_budget_the_daemon_and_its_directories(inventory):
    plan = mps_plan(inventory, compute_percent=40)
    models = plan["quadlet"]["ai-models.container"]
    env = env_of(models)
    assert env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=8000M"
    assert env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] == "40"
    assert env["CUDA_MPS_PIPE_DIRECTORY"] == "/run/nvidia-mps"
    assert env["CUDA_MPS_LOG_DIRECTORY"] == "/run/nvidia-mps-log"
    assert keys(models, "Requires") == ["ai-system-firewall.service", "ai-core.service", "ai-system-mps-gpu0.service"]
    assert keys(models, "After") == ["ai-system-firewall.service", "ai-core.service", "ai-system-mps-gpu0.service"]
    volumes = keys(models, "Volume")
    assert "/run/ai-system/mps/0/pipe:/run/nvidia-mps" in volumes
    assert "/run/ai-system/mps/0/log:/run/nvidia-mps-log:ro" in volumes
    assert "/run/ai-system/mps/0/shm:/dev/shm" in volumes
    # The containers keep their own IPC namespace: only /dev/shm is shared.
    assert "Ipc" not in models and "--ipc" not in models
    core = env_of(plan["quadlet"]["ai-core.container"])
    assert core["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=2048M"
    assert "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE" not in core
    assert sorted(plan["gpu"]["mps_units"]) == ["ai-system-mps-gpu0.service"]
    assert sorted(plan["gpu"]["mps_lab_units"]) == ["ai-system-mps-gpu0.service"]
    assert plan["checks"]["cuda_budgets"] == {"core": 2048, "models": 8000}
    assert plan["checks"]["vram_enforced"] is True


def test_mps_mounts_are_relabelled_shared_on_selinux_hosts(inventory):
    volumes = keys(mps_plan(inventory, selinux=True)["quadlet"]["ai-models.container"], "Volume")
    assert "/run/ai-system/mps/0/pipe:/run/nvidia-mps:z" in volumes
    assert "/run/ai-system/mps/0/log:/run/nvidia-mps-log:ro,z" in volumes


def test_without_mps_nothing_of_it_is_rendered(inventory):
    plan = plan_of(inventory)["mainpc"]
    models = plan["quadlet"]["ai-models.container"]
    assert "CUDA_MPS" not in models and "/run/ai-system/mps" not in models
    assert keys(models, "Requires") == ["ai-system-firewall.service", "ai-core.service"]
    assert plan["gpu"]["mps_units"] == {} and plan["gpu"]["mps_lab_units"] == {}
    assert plan["checks"]["cuda_budgets"] == {"models": 8000}
    assert plan["checks"]["vram_enforced"] is False


def test_mps_daemon_unit_runs_the_control_daemon_for_its_gpu(inventory):
    text = mps_plan(inventory)["gpu"]["mps_units"]["ai-system-mps-gpu0.service"]
    assert keys(text, "ExecStart") == ["/usr/bin/nvidia-cuda-mps-control -f"]
    assert keys(text, "ExecStartPre") == ["/usr/bin/nvidia-smi -i 0 -c EXCLUSIVE_PROCESS"]
    assert keys(text, "ExecStopPost") == ["/usr/bin/nvidia-smi -i 0 -c DEFAULT"]
    assert keys(text, "ExecStop") == ['/bin/sh -c "echo quit | /usr/bin/nvidia-cuda-mps-control"']
    assert keys(text, "Environment") == [
        "CUDA_VISIBLE_DEVICES=0", "CUDA_MPS_PIPE_DIRECTORY=/run/ai-system/mps/0/pipe",
        "CUDA_MPS_LOG_DIRECTORY=/run/ai-system/mps/0/log"]
    assert keys(text, "RuntimeDirectory") == [
        "ai-system/mps/0/pipe ai-system/mps/0/log ai-system/mps/0/shm"]
    assert keys(text, "RuntimeDirectoryPreserve") == ["yes"]
    assert keys(text, "BindPaths") == ["/run/ai-system/mps/0/shm:/dev/shm"]
    assert "User=" not in text  # root, as NVIDIA documents for the control daemon


def test_mps_lab_unit_says_it_is_not_mps(inventory):
    text = mps_plan(inventory)["gpu"]["mps_lab_units"]["ai-system-mps-gpu0.service"]
    assert "Description=NOT MPS: lab stand-in" in text
    assert "nvidia" not in text.lower().replace("mps control daemon", "")
    assert keys(text, "RuntimeDirectory") == [
        "ai-system/mps/0/pipe ai-system/mps/0/log ai-system/mps/0/shm"]
    assert keys(text, "ExecStart")[0].startswith("/bin/echo NOT MPS: lab stand-in")


def test_mps_daemon_per_gpu_on_a_two_gpu_host(inventory):
    inventory["mainpc"]["ai_gpu"].update(sharing="mps", count=2)
    g = inventory["mainpc"]["ai_groups"]
    g["core"]["gpu"] = {"devices": [1], "vram_mib": 2048}
    g["models"]["gpu"]["devices"] = [0]
    plan = plan_of(inventory)["mainpc"]
    assert sorted(plan["gpu"]["mps_units"]) == ["ai-system-mps-gpu0.service",
                                                "ai-system-mps-gpu1.service"]
    core = plan["quadlet"]["ai-core.container"]
    assert keys(core, "Requires") == ["ai-system-firewall.service", "ai-system-mps-gpu1.service"]
    assert "/run/ai-system/mps/1/shm:/dev/shm" in keys(core, "Volume")
    daemon1 = plan["gpu"]["mps_units"]["ai-system-mps-gpu1.service"]
    assert "CUDA_VISIBLE_DEVICES=1" in keys(daemon1, "Environment")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is absent")
def test_mps_lab_unit_passes_systemd_analyze(inventory, tmp_path):
    path = tmp_path / "ai-system-mps-gpu0.service"
    path.write_text(mps_plan(inventory)["gpu"]["mps_lab_units"][path.name])
    proc = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    complaints = [line for line in (proc.stdout + proc.stderr).splitlines()
                  if path.name in line or "Unknown" in line]
    assert proc.returncode == 0 and complaints == [], proc.stdout + proc.stderr


def test_depends_on_becomes_requires_and_after(inventory):
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-models.container"]
    assert keys(unit, "Requires") == ["ai-system-firewall.service", "ai-core.service"]
    assert keys(unit, "After") == ["ai-system-firewall.service", "ai-core.service"]
    core = plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"]
    assert keys(core, "Requires") == ["ai-system-firewall.service"]


def test_start_order_follows_dependencies(production):
    host = plan_of(production)["mainpc"]
    order = host["start_order"]
    group_of = {unit["service"]: unit["group"] for unit in host["units"]}
    for unit in host["units"]:
        for dep in unit["depends_on"]:
            assert order.index(group_of[dep]) < order.index(unit["group"])
    # The pod unit (production runs ai_network_mode: pod) holds the network
    # every group joins; then Redis: BaseAgent writes its ready key there
    # once, at start.
    assert order[:3] == ["pod", "mainpc-redis", "core-services"]


def test_only_consumed_ports_are_published_on_the_lan_address(inventory):
    hosts = plan_of(inventory)
    pc2_store = hosts["pc2"]["quadlet"]["ai-store.container"]
    assert keys(pc2_store, "PublishPort") == ["10.0.0.17:7140:7140/tcp"]
    # redis is consumed by nobody on another host: not published.
    assert keys(hosts["pc2"]["quadlet"]["ai-redis.container"], "PublishPort") == []
    assert keys(hosts["mainpc"]["quadlet"]["ai-core.container"], "PublishPort") == \
        ["10.0.0.16:7120:7120/tcp"]
    assert keys(hosts["mainpc"]["quadlet"]["ai-models.container"], "PublishPort") == []
    for host in hosts.values():
        for text in host["quadlet"].values():
            assert "0.0.0.0" not in text


def test_production_publishes_exactly_the_cross_host_ports(production):
    hosts = plan_of(production)
    published = {h: sorted(p["port"] for p in plan["published"]) for h, plan in hosts.items()}
    assert published == {"mainpc": [7120],
                         "pc2": [7101, 7102, 7105, 7114, 7116, 7126, 7140, 7150]}


def test_firewall_opens_each_port_to_the_peer_only(inventory):
    hosts = plan_of(inventory)
    assert hosts["pc2"]["firewall"] == [{
        "port": 7140, "proto": "tcp", "source": "10.0.0.16", "source_host": "mainpc",
        "group": "store", "agent": "Memory"}]
    assert hosts["mainpc"]["firewall"] == [{
        "port": 7120, "proto": "tcp", "source": "10.0.0.17", "source_host": "pc2",
        "group": "core", "agent": "Twin"}]


def test_endpoint_map_same_host_by_name_remote_by_lan(inventory):
    inventory["mainpc"]["ai_groups"]["models"]["connects_to"] = ["Memory", "Twin"]
    hosts = plan_of(inventory)
    doc = json.loads(hosts["mainpc"]["config"]["groups/models/endpoints.json"])
    assert doc["group"] == "models" and doc["host"] == "mainpc"
    assert doc["agents"] == {"ModelManager": {"port": 5570, "health_port": 6570,
                                              "socket": "rep",
                                              "health_policy": DEFAULT_POLICY}}
    assert doc["endpoints"]["Twin"] == {
        "host": "mainpc", "group": "core", "address": "core", "port": 7120,
        "health_port": 8120, "socket": "rep", "remote": False, "url": "tcp://core:7120"}
    # Only what the group connects to: no other agent of the host is listed.
    assert sorted(doc["endpoints"]) == ["Memory", "Twin"]
    assert doc["endpoints"]["Memory"] == {
        "host": "pc2", "group": "store", "address": "10.0.0.17", "port": 7140,
        "health_port": None, "socket": "rep", "remote": True, "url": "tcp://10.0.0.17:7140"}
    assert doc["connects_to"] == ["Memory", "Twin"]
    unit = hosts["mainpc"]["quadlet"]["ai-models.container"]
    assert "Environment=AI_ENDPOINT_MEMORY=tcp://10.0.0.17:7140" in unit
    assert "Volume=/etc/ai-system/groups/models/endpoints.json:/etc/ai-system/" \
           "endpoints.json:ro" in unit


def test_env_names_of_endpoints():
    assert env_name("MemoryOrchestratorService") == "AI_ENDPOINT_MEMORY_ORCHESTRATOR_SERVICE"
    assert env_name("PC2Services") == "AI_ENDPOINT_PC2_SERVICES"
    assert env_name("NLUAgent") == "AI_ENDPOINT_NLU_AGENT"


def test_secrets_are_named_never_valued(inventory):
    hosts = plan_of(inventory)
    unit = hosts["mainpc"]["quadlet"]["ai-models.container"]
    assert keys(unit, "Secret") == ["token,type=mount"]
    assert hosts["mainpc"]["secrets"] == ["token"]
    assert "s3cr3t-value" not in json.dumps(build_plan(inventory))


def test_health_check_speaks_zmq_to_every_rep_agent(inventory):
    hosts = plan_of(inventory)
    unit = hosts["mainpc"]["quadlet"]["ai-core.container"]
    # The probe reads the agents and their policies from the endpoint map.
    assert keys(unit, "HealthCmd") == [
        "python3 /usr/local/lib/ai-system/zmq_health.py --timeout 3 "
        "--config /etc/ai-system/endpoints.json"]
    doc = json.loads(hosts["mainpc"]["config"]["groups/core/endpoints.json"])
    assert [e["port"] for e in config_endpoints(doc)] == [8121, 8120]
    assert "Notify=healthy" in unit and "HealthOnFailure=kill" in unit
    redis = plan_of(inventory)["pc2"]["quadlet"]["ai-redis.container"]
    assert keys(redis, "HealthCmd") == ["redis-cli ping"]


def test_hardening_defaults_and_overrides(inventory):
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"]
    for line in ("NoNewPrivileges=true", "DropCapability=ALL", "ReadOnly=true",
                 "Restart=on-failure", "WantedBy=multi-user.target default.target"):
        assert line in unit
    inventory["mainpc"]["ai_groups"]["core"]["security"] = {
        "read_only": False, "add_capabilities": ["net_bind_service"], "userns": "auto"}
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"]
    assert "ReadOnly=true" not in unit
    assert "AddCapability=NET_BIND_SERVICE" in unit and "UserNS=auto" in unit


def test_group_override_merges_over_the_group_key_by_key(inventory):
    inventory["mainpc"]["ai_group_defaults"]["env"] = {"SHARED": "all"}
    core = inventory["mainpc"]["ai_groups"]["core"]
    core["env"] = {"KEEP": "1", "CHANGE": "old"}
    core["memory"] = "512m"
    core["security"] = {"userns": "auto"}
    inventory["mainpc"]["ai_group_overrides"] = {"core": {
        "env": {"CHANGE": "new", "ADD": "2"},
        "memory": "1g",
        "devices": ["/dev/snd"],
        "security": {"read_only": False},
    }}
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"]
    env = keys(unit, "Environment")
    # env merges key by key: defaults, then the group, then the override.
    for assignment in ("SHARED=all", "KEEP=1", "CHANGE=new", "ADD=2"):
        assert assignment in env
    assert "CHANGE=old" not in env
    # Other keys are replaced; what the override leaves out stays the group's.
    assert keys(unit, "PodmanArgs") == ["--memory=1024m"]
    assert keys(unit, "AddDevice") == ["/dev/snd"]
    assert "ReadOnly=true" not in unit and "UserNS=auto" in unit
    doc = json.loads(plan_of(inventory)["mainpc"]["config"]["groups/core/endpoints.json"])
    assert [e["port"] for e in config_endpoints(doc)] == [8121, 8120]
    # The host's other groups are untouched.
    models = plan_of(inventory)["mainpc"]["quadlet"]["ai-models.container"]
    assert "CHANGE=new" not in keys(models, "Environment")


def test_max_cpus_caps_every_groups_cpus(inventory):
    g = inventory["mainpc"]["ai_groups"]
    g["core"]["cpus"] = 0.5
    inventory["mainpc"]["ai_max_cpus"] = "1.5"
    units = plan_of(inventory)["mainpc"]["quadlet"]
    # models asks for 2 CPUs and gets the cap; core asks for less and keeps it.
    assert keys(units["ai-models.container"], "PodmanArgs") == ["--cpus=1.5 --memory=4096m"]
    assert keys(units["ai-core.container"], "PodmanArgs") == ["--cpus=0.5"]
    # pc2 has no cap, and a group without cpus gets no limit from the cap.
    inventory["pc2"]["ai_groups"]["store"]["cpus"] = 3
    store = plan_of(inventory)["pc2"]["quadlet"]["ai-store.container"]
    assert keys(store, "PodmanArgs") == ["--cpus=3 --memory=512m"]
    del g["core"]["cpus"]
    core = plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"]
    assert "--cpus" not in core


def test_named_volume_becomes_a_volume_unit(inventory):
    hosts = plan_of(inventory)
    assert "ai-redis-data.volume" in hosts["pc2"]["quadlet"]
    assert "Volume=ai-redis-data.volume:/data" in hosts["pc2"]["quadlet"]["ai-redis.container"]


def test_selinux_hosts_relabel_and_gpu_groups_disable_labels(inventory):
    inventory["mainpc"]["ai_selinux"] = True
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-models.container"]
    assert "SecurityLabelDisable=true" in unit
    assert "endpoints.json:ro,Z" in unit


def test_checks_for_verify(inventory):
    checks = plan_of(inventory)["mainpc"]["checks"]
    assert checks["cuda"] == ["models"]
    assert checks["links"] == [{
        "name": "Memory", "from_group": "models", "container": "models", "to_host": "pc2",
        "to_group": "store", "address": "10.0.0.17", "port": 7140, "kind": "main",
        "cross_host": True, "policy": DEFAULT_POLICY, "strict": False, "request": None,
        "note": ""}]
    assert {"name": "Twin", "group": "core", "container": "core", "address": "127.0.0.1",
            "port": 8120, "kind": "health", "policy": DEFAULT_POLICY} in checks["health"]
    assert checks["units"] == [
        {"service": "ai-core.service", "container": "core", "healthcheck": True},
        {"service": "ai-models.service", "container": "models", "healthcheck": True}]
    assert [target["container"] for target in checks["zmq"]] == ["models", "core"]


def test_publishers_are_checked_by_greeting(production):
    links = plan_of(production)["mainpc"]["checks"]["links"]
    bus = [lk for lk in links if lk["name"] == "ErrorBusService"]
    assert bus and all(lk["kind"] == "greeting" for lk in bus)


def test_build_context_becomes_a_build_unit(inventory):
    group = inventory["pc2"]["ai_groups"]["store"]
    group["build"] = {"context": "/srv/src", "file": "Containerfile"}
    unit = plan_of(inventory)["pc2"]["quadlet"]
    assert "Image=ai-store.build" in unit["ai-store.container"]
    assert "SetWorkingDirectory=/srv/src" in unit["ai-store.build"]


def test_quoting_of_values_with_spaces(inventory):
    inventory["pc2"]["ai_groups"]["store"]["env"] = {"GREETING": 'say "hi" now'}
    unit = plan_of(inventory)["pc2"]["quadlet"]["ai-store.container"]
    assert 'Environment="GREETING=say \\"hi\\" now"' in unit


def test_rendering_is_deterministic(production):
    assert json.dumps(build_plan(production), sort_keys=True) == \
        json.dumps(build_plan(production), sort_keys=True)


def test_service_names():
    assert quadlet.service_name("ai-core.container") == "ai-core.service"
    assert quadlet.service_name("ai-data.volume") == "ai-data-volume.service"
    assert quadlet.service_name("ai-system.network") == "ai-system-network.service"


# -- Podman's own generator ------------------------------------------------------

def run_quadlet(directory):
    proc = subprocess.run([QUADLET, "-dryrun"], env={"QUADLET_UNIT_DIRS": str(directory),
                                                     "PATH": os.environ.get("PATH", "")},
                          capture_output=True, text=True, timeout=60, check=False)
    return proc


def write_units(files, directory):
    for name, text in files.items():
        (directory / name).write_text(text)


@pytest.mark.podman
@needs_quadlet
@pytest.mark.parametrize("source", ["production", "inventory", "mps"])
def test_every_rendered_unit_passes_the_quadlet_generator(request, tmp_path, source):
    if source == "production":
        hosts = plan_of(request.getfixturevalue(source))
    else:  # exercise every kind of unit and key
        inv = request.getfixturevalue("inventory")
        inv["pc2"]["ai_groups"]["store"]["build"] = {"context": "/srv/src"}
        inv["pc2"]["ai_groups"]["store"]["devices"] = ["/dev/snd"]
        inv["mainpc"]["ai_selinux"] = True
        if source == "mps":
            inv["mainpc"]["ai_gpu"]["sharing"] = "mps"
            inv["mainpc"]["ai_groups"]["models"]["gpu"]["compute_percent"] = 50
        hosts = plan_of(inv)
    for name, plan in hosts.items():
        directory = tmp_path / name
        directory.mkdir()
        write_units(plan["quadlet"], directory)
        proc = run_quadlet(directory)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        # The generator logs to stderr; anything but "Loading ..." is a complaint.
        complaints = [line for line in proc.stderr.splitlines()
                      if line.strip() and "Loading source unit file" not in line]
        assert complaints == []
        for unit in plan["units"]:
            assert "---%s---" % unit["service"] in proc.stdout
        # depends_on survives into the generated services.
        for unit in plan["units"]:
            section = proc.stdout.split("---%s---" % unit["service"])[1].split("\n---")[0]
            for dep in unit["depends_on"]:
                assert "Requires=%s" % dep in section and "After=%s" % dep in section
            if unit["gpu"]:
                assert "--device nvidia.com/gpu=" in section
            if source == "mps" and unit["gpu"]:
                assert "Requires=ai-system-mps-gpu0.service" in section
                assert "After=ai-system-mps-gpu0.service" in section
                assert "-v /run/ai-system/mps/0/shm:/dev/shm" in section
                assert "--env CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=8000M" in section
                assert "--env CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50" in section
        if source == "mps" and name == "mainpc":
            assert [u["group"] for u in plan["units"] if u["gpu"]] == ["models"]


@pytest.mark.podman
@needs_quadlet
def test_quadlet_generator_rejects_a_broken_unit(tmp_path):
    """The check above can fail: a unit with an unknown key is refused."""
    (tmp_path / "broken.container").write_text("[Container]\nImage=x\nMemroy=1g\n")
    proc = run_quadlet(tmp_path)
    assert "unsupported key 'Memroy'" in proc.stdout + proc.stderr


def test_quadlet_binary_present_when_podman_is():
    if shutil.which("podman") and not os.path.exists(QUADLET):
        pytest.fail("podman is installed without Quadlet (%s): Podman >= 4.4 is needed" % QUADLET)


def _policy(hosts, host, group, agent):
    doc = json.loads(hosts[host]["config"]["groups/%s/endpoints.json" % group])
    return doc["agents"][agent]["health_policy"]


def test_health_policy_most_specific_layer_wins_key_by_key(inventory):
    for host in ("mainpc", "pc2"):  # group_vars/all reaches every host
        inventory[host]["ai_group_defaults"] = dict(
            inventory[host].get("ai_group_defaults") or {},
            health_policy={"degraded": ["degraded", "initializing"]})
    inventory["mainpc"]["ai_host_group_defaults"] = {"health_policy": {"healthy": ["ok"]}}
    core = inventory["mainpc"]["ai_groups"]["core"]
    core["health_policy"] = {"required_keys": ["status", "ready"]}
    core["agents"]["Twin"] = {"port": 7120, "health_port": 8120,
                              "health_policy": {"healthy": ["HEALTHY"]}}
    hosts = plan_of(inventory)
    # The agent's own key wins; the group's, the host's and the global ones fill in.
    assert _policy(hosts, "mainpc", "core", "Twin") == {
        "request": {"action": "health_check"}, "healthy": ["healthy"],
        "degraded": ["degraded", "initializing"], "required_keys": ["status", "ready"]}
    other = [a for a in json.loads(hosts["mainpc"]["config"]["groups/core/endpoints.json"])
             ["agents"] if a != "Twin"][0]
    assert _policy(hosts, "mainpc", "core", other)["healthy"] == ["ok"]
    # pc2 has its own host layer: only the global default reaches it.
    assert _policy(hosts, "pc2", "store", "Memory") == dict(
        DEFAULT_POLICY, degraded=["degraded", "initializing"])
    # verify judges with the same policy the probe reads.
    health = {(c["container"], c["name"]): c["policy"] for c in hosts["mainpc"]["checks"]["health"]}
    assert health[("core", "Twin")] == _policy(hosts, "mainpc", "core", "Twin")


def test_a_link_carries_the_target_agents_policy_and_can_be_strict(inventory):
    inventory["pc2"]["ai_groups"]["store"]["agents"]["Memory"] = {
        "port": 7140, "health_port": 7141, "health_policy": {"request": {"command": "health_check"}}}
    inventory["mainpc"]["ai_groups"]["models"]["connects_to"] = [
        {"agent": "Memory", "strict": True}, {"agent": "Twin", "request": {"action": "ping"}}]
    links = {lk["name"]: lk for lk in plan_of(inventory)["mainpc"]["checks"]["links"]}
    assert links["Memory"]["strict"] is True and links["Memory"]["request"] is None
    assert links["Memory"]["policy"]["request"] == {"command": "health_check"}
    assert links["Twin"]["strict"] is False and links["Twin"]["request"] == {"action": "ping"}
