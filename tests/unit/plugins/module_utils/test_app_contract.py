# -*- coding: utf-8 -*-
"""The application's own container contract in the plan: the group name it
knows (CONTAINER_GROUP), command and entrypoint, the hosts' addresses under
the variables it reads, BIND_ADDRESS, start timeouts that wait out the health
start period, and pod mode (every group of a host in one network namespace),
checked with Podman's real Quadlet generator."""

from __future__ import annotations

import json
import shlex

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.report import report_checks as rc
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import (
    build_plan,
)
from support.quadlet import generated_service, needs_quadlet
from support.verify_results import endpoint_result, healthy_host_results


def plan_of(inventory):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    return result["hosts"]


def errors_of(inventory):
    result = build_plan(inventory)
    assert not result["ok"]
    return result["errors"]


def keys(text, key):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def env_of(unit):
    return dict(v.split("=", 1) for v in keys(unit, "Environment"))


def exec_start(service_text):
    line = next(li for li in service_text.splitlines() if li.startswith("ExecStart="))
    return shlex.split(line.split("=", 1)[1])


def pod(inventory, host="mainpc"):
    inventory[host]["ai_network_mode"] = "pod"
    return inventory


# --------------------------------------------------------------------------
# CONTAINER_GROUP
# --------------------------------------------------------------------------

def test_production_units_carry_the_application_group_names(production):
    hosts = plan_of(production)
    wanted = {"ai-core-services.container": "core_services",
              "ai-memory-system.container": "memory_system",
              "ai-ai-models-gpu-services.container": "ai_models_gpu_services",
              "ai-language-processing.container": "language_processing",
              "ai-utility-services.container": "utility_services"}
    for name, app in wanted.items():
        env = env_of(hosts["mainpc"]["quadlet"][name])
        assert env["CONTAINER_GROUP"] == app
        # The collection's own name of the group stays as it is.
        assert env["AI_SYSTEM_GROUP"] == name[3:-len(".container")]
    assert env_of(hosts["pc2"]["quadlet"]["ai-pc2-memory-system.container"])[
        "CONTAINER_GROUP"] == "pc2_memory_system"


def test_app_group_overrides_the_default(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["app_group"] = "core_services"
    env = env_of(plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"])
    assert env["CONTAINER_GROUP"] == "core_services"


@pytest.mark.parametrize("value", ["core services", "", 7, "-x", ["a"]])
def test_bad_app_group_is_located(inventory, value):
    inventory["mainpc"]["ai_groups"]["core"]["app_group"] = value
    errors = errors_of(inventory)
    assert any(e.startswith("host mainpc, group core, field app_group: app_group ")
               for e in errors), errors


def test_env_may_not_set_container_group(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["env"] = {"CONTAINER_GROUP": "x"}
    assert "host mainpc, group core, field env: env sets CONTAINER_GROUP, which the plan " \
        "sets -- use app_group for CONTAINER_GROUP and ai_bind_address for BIND_ADDRESS" \
        in errors_of(inventory)


# --------------------------------------------------------------------------
# command and entrypoint
# --------------------------------------------------------------------------

@needs_quadlet
def test_command_and_entrypoint_reach_podman(inventory, tmp_path):
    core = inventory["mainpc"]["ai_groups"]["core"]
    core["entrypoint"] = ["python", "/app/docker/mainpc/agent_starter.py"]
    core["command"] = "--log-level 'very verbose'"
    files = plan_of(inventory)["mainpc"]["quadlet"]
    unit = files["ai-core.container"]
    assert keys(unit, "Entrypoint") == ['["python", "/app/docker/mainpc/agent_starter.py"]']
    argv = exec_start(generated_service(files, tmp_path, "ai-core.service"))
    at = argv.index("--entrypoint")
    assert json.loads(argv[at + 1]) == ["python", "/app/docker/mainpc/agent_starter.py"]
    assert argv[-3:] == ["localhost/agents:1", "--log-level", "very verbose"]


@needs_quadlet
def test_one_word_entrypoint_is_written_as_it_is(inventory, tmp_path):
    inventory["mainpc"]["ai_groups"]["core"]["entrypoint"] = "/app/start"
    files = plan_of(inventory)["mainpc"]["quadlet"]
    argv = exec_start(generated_service(files, tmp_path, "ai-core.service"))
    assert argv[argv.index("--entrypoint") + 1] == "/app/start"


@pytest.mark.parametrize("field,value,says", [
    ("command", "python 'unclosed", "cannot be split into arguments"),
    ("command", [], "command is empty"),
    ("entrypoint", "", "entrypoint is empty"),
    ("entrypoint", ["python", {"a": 1}], "entrypoint entry {'a': 1} is not text"),
    ("entrypoint", {"python": 1}, "entrypoint must be a list of arguments"),
])
def test_bad_command_or_entrypoint_is_located(inventory, field, value, says):
    inventory["mainpc"]["ai_groups"]["core"][field] = value
    errors = errors_of(inventory)
    assert any(e.startswith("host mainpc, group core, field %s: " % field) and says in e
               for e in errors), errors


def test_quadlet_options_may_not_set_the_entrypoint(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["quadlet_options"] = {
        "Container": {"Entrypoint": "/bin/sh"}}
    assert any("quadlet_options.Container.Entrypoint is written by the plan -- set it "
               "through entrypoint" in e for e in errors_of(inventory))


# --------------------------------------------------------------------------
# The hosts' addresses and BIND_ADDRESS
# --------------------------------------------------------------------------

def address_env(inventory, value, bind=None):
    for host in inventory.values():
        host["ai_host_address_env"] = value
        if bind is not None:
            host["ai_bind_address"] = bind
    return inventory


def test_every_unit_gets_the_hosts_addresses_under_the_applications_names(inventory):
    address_env(inventory, {"MAINPC_IP": "mainpc", "MAIN_PC_IP": "mainpc", "PC2_IP": "pc2"},
                "0.0.0.0")
    hosts = plan_of(inventory)
    for host in hosts.values():
        for name, text in host["quadlet"].items():
            if name.endswith(".container"):
                env = env_of(text)
                assert (env["MAINPC_IP"], env["MAIN_PC_IP"], env["PC2_IP"]) == \
                    ("10.0.0.16", "10.0.0.16", "10.0.0.17")
                assert env["BIND_ADDRESS"] == "0.0.0.0"


def test_production_sets_the_addresses_the_agents_read(production):
    env = env_of(plan_of(production)["pc2"]["quadlet"]["ai-pc2-core-infrastructure.container"])
    assert (env["MAINPC_IP"], env["MAIN_PC_IP"], env["PC2_IP"], env["BIND_ADDRESS"]) == \
        ("192.168.100.16", "192.168.100.16", "192.168.100.17", "0.0.0.0")


def test_without_the_settings_nothing_is_added(inventory):
    env = env_of(plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"])
    assert not {"MAINPC_IP", "PC2_IP", "BIND_ADDRESS"} & set(env)


def test_unknown_host_in_the_address_map_is_located(inventory):
    address_env(inventory, {"PC2_IP": "pc-2"})
    errors = errors_of(inventory)
    assert "host mainpc, field ai_host_address_env.PC2_IP: ai_host_address_env.PC2_IP names " \
        "unknown host 'pc-2' -- did you mean 'pc2'?" in errors


@pytest.mark.parametrize("value,says", [
    ({"2BAD": "pc2"}, "field ai_host_address_env: ai_host_address_env: '2BAD' is not a valid "
                      "variable name"),
    ({"PC2_IP": ["pc2"]}, "field ai_host_address_env.PC2_IP: ai_host_address_env.PC2_IP must "
                          "name a host"),
    (["PC2_IP"], "field ai_host_address_env: ai_host_address_env must be a mapping"),
])
def test_malformed_address_map_is_located(inventory, value, says):
    address_env(inventory, value)
    errors = errors_of(inventory)
    assert any(e.startswith("host mainpc, " + says) for e in errors), errors


def test_group_env_may_not_fight_the_address_map(inventory):
    address_env(inventory, {"PC2_IP": "pc2"})
    inventory["mainpc"]["ai_groups"]["core"]["env"] = {"PC2_IP": "192.168.1.1"}
    assert any(e.startswith("host mainpc, group core, field env: env sets PC2_IP, which "
                            "ai_host_address_env sets") for e in errors_of(inventory))


def test_bad_bind_address_is_located(inventory):
    inventory["mainpc"]["ai_bind_address"] = "everywhere"
    assert any(e.startswith("host mainpc, field ai_bind_address: ai_bind_address "
                            "'everywhere' is not an IP address") for e in errors_of(inventory))


# --------------------------------------------------------------------------
# Start timeouts: the health start period is waited for
# --------------------------------------------------------------------------

def test_a_long_start_period_lengthens_the_start_timeout_and_the_deploy_wait(inventory):
    inventory["mainpc"]["ai_group_defaults"]["health"] = {
        "start_period": "300s", "interval": "30s", "timeout": "10s", "retries": 3}
    host = plan_of(inventory)["mainpc"]
    # 300 s start period, then 3 retries of 30 s interval + 10 s timeout.
    for name in ("ai-core.container", "ai-models.container"):
        assert keys(host["quadlet"][name], "HealthStartPeriod") == ["300s"]
        assert keys(host["quadlet"][name], "TimeoutStartSec") == ["420"]
    # models starts once core is healthy: the deploy waits for both.
    assert host["start_wait"] == 840


def test_short_health_keeps_ai_start_timeout(inventory):
    host = plan_of(inventory)["mainpc"]
    assert keys(host["quadlet"]["ai-core.container"], "TimeoutStartSec") == ["300"]
    assert host["start_wait"] == 600


def test_production_waits_out_the_originals_300_s_start_period(production):
    host = plan_of(production)["mainpc"]
    core = host["quadlet"]["ai-core-services.container"]
    assert keys(core, "HealthStartPeriod") == ["300s"]
    assert keys(core, "TimeoutStartSec") == ["360"]  # 300 s + 3 x (15 s + 5 s)
    redis = host["quadlet"]["ai-mainpc-redis.container"]
    assert keys(redis, "HealthStartPeriod") == ["30s"]
    assert keys(redis, "TimeoutStartSec") == ["300"]
    # redis -> core -> utility -> ai-models -> language-processing
    assert host["start_wait"] == 300 + 4 * 360


def test_the_application_health_command_is_used_where_given(inventory):
    cmd = "python -m main_pc_code.scripts.container_healthcheck"
    inventory["mainpc"]["ai_groups"]["core"]["health"] = {"cmd": cmd, "start_period": "300s"}
    unit = plan_of(inventory)["mainpc"]["quadlet"]["ai-core.container"]
    assert keys(unit, "HealthCmd") == [cmd]
    assert keys(unit, "HealthStartPeriod") == ["300s"]


# --------------------------------------------------------------------------
# Pod mode
# --------------------------------------------------------------------------

@needs_quadlet
def test_pod_mode_units_share_the_pod_units_namespace(inventory, tmp_path):
    host = plan_of(pod(inventory))["mainpc"]
    files = host["quadlet"]
    pod_unit = files["ai-pod.container"]
    assert keys(pod_unit, "Network") == ["ai-system.network"]
    assert keys(pod_unit, "ContainerName") == ["ai-pod"]
    assert keys(pod_unit, "AddHost") == ["core:127.0.0.1", "models:127.0.0.1"]
    assert keys(pod_unit, "PublishPort") == ["10.0.0.16:7120:7120/tcp"]
    for name in ("ai-core.container", "ai-models.container"):
        unit = files[name]
        assert keys(unit, "Network") == ["container:ai-pod"]
        assert keys(unit, "BindsTo") == ["ai-pod.service"]
        assert "ai-pod.service" in keys(unit, "After")
        assert keys(unit, "PublishPort") == []
        assert keys(unit, "HealthCmd")  # each group keeps its own health check
    assert keys(files["ai-models.container"], "PodmanArgs") == ["--cpus=2 --memory=4096m"]
    # The real generator accepts every file and joins the namespace.
    argv = exec_start(generated_service(files, tmp_path, "ai-models.service"))
    assert argv[argv.index("--network") + 1] == "container:ai-pod"
    pod_argv = exec_start(generated_service(files, tmp_path, "ai-pod.service"))
    assert pod_argv[pod_argv.index("--publish") + 1] == "10.0.0.16:7120:7120/tcp"
    assert pod_argv[pod_argv.index("--network") + 1] == "ai-system"
    # The pod unit's process: python3 (the image contract) waiting for SIGTERM.
    assert pod_argv[pod_argv.index("--entrypoint") + 1] == "python3"
    assert pod_argv[-2] == "-c" and "signal.pause()" in pod_argv[-1]


def test_pod_unit_starts_first_and_is_a_unit_of_the_plan(inventory):
    host = plan_of(pod(inventory))["mainpc"]
    assert host["start_order"] == ["pod", "core", "models"]
    first = host["units"][0]
    assert (first["group"], first["service"], first["container"], first["image"],
            first["healthcheck"]) == ("pod", "ai-pod.service", "ai-pod", "localhost/agents:1", False)
    assert [u["service"] for u in host["checks"]["units"]][0] == "ai-pod.service"
    # It runs an image the host pulls anyway: nothing more to deliver.
    assert [i["image"] for i in host["images"]] == ["localhost/agents:1"]


def test_pod_mode_changes_no_published_port_firewall_or_health_check(inventory):
    import copy
    per_group = plan_of(copy.deepcopy(inventory))["mainpc"]
    in_pod = plan_of(pod(inventory))["mainpc"]
    for key in ("published", "firewall", "prune_patterns", "secrets", "host_dirs"):
        assert in_pod[key] == per_group[key], key
    assert in_pod["checks"]["health"] == per_group["checks"]["health"]


def test_same_host_peers_are_at_localhost_in_pod_mode(inventory):
    inventory["mainpc"]["ai_groups"]["models"]["connects_to"] = ["Memory", "Twin"]
    import copy
    per_group = plan_of(copy.deepcopy(inventory))["mainpc"]
    twin = json.loads(per_group["config"]["groups/models/endpoints.json"])["endpoints"]["Twin"]
    assert twin["url"] == "tcp://core:7120"
    host = plan_of(pod(inventory))["mainpc"]
    doc = json.loads(host["config"]["groups/models/endpoints.json"])
    assert doc["endpoints"]["Twin"]["url"] == "tcp://127.0.0.1:7120"
    assert doc["endpoints"]["Memory"]["url"] == "tcp://10.0.0.17:7140"  # other host: LAN
    assert env_of(host["quadlet"]["ai-models.container"])["AI_ENDPOINT_TWIN"] == \
        "tcp://127.0.0.1:7120"
    link = next(lk for lk in host["checks"]["links"] if lk["name"] == "Twin")
    assert (link["container"], link["address"], link["port"], link["note"]) == \
        ("models", "127.0.0.1", 7120, "")


def test_port_clash_between_groups_of_a_pod_host_is_located(inventory):
    inventory["mainpc"]["ai_groups"]["models"]["ports"] = [{"port": 8121, "name": "web"}]
    errors = errors_of(pod(inventory))
    assert "host mainpc, group core, agent Coordinator, field health_port: port 8121 is " \
        "claimed by both: core/Coordinator health_port and models web -- give all but one of " \
        "them a free port in host_vars/mainpc/groups.yml" in errors


def test_group_named_like_the_pod_unit_is_refused_in_pod_mode(inventory):
    inventory["mainpc"]["ai_groups"]["pod"] = {
        "agents": {"Extra": {"port": 7300, "health_port": 7301}}}
    assert "host mainpc, group pod: group name 'pod' is the name of the pod unit of this " \
        "host (ai_network_mode: pod) -- rename the group" in errors_of(pod(inventory))


def test_unknown_network_mode_is_located(inventory):
    inventory["mainpc"]["ai_network_mode"] = "host"
    assert any(e.startswith("host mainpc, field ai_network_mode: ai_network_mode 'host' is "
                            "unknown -- use group") for e in errors_of(inventory))


# --------------------------------------------------------------------------
# Links the application makes to localhost
# --------------------------------------------------------------------------

def localhost_link(inventory):
    inventory["mainpc"]["ai_groups"]["models"]["connects_to"] = [
        "Memory", {"agent": "Twin", "localhost": True}]
    return inventory


def test_localhost_link_in_per_group_mode_is_checked_where_the_agent_makes_it(inventory):
    host = plan_of(localhost_link(inventory))["mainpc"]
    link = next(lk for lk in host["checks"]["links"] if lk["name"] == "Twin")
    assert (link["container"], link["address"], link["port"]) == ("models", "127.0.0.1", 7120)
    assert link["note"] == (
        "models reaches Twin at localhost, but mainpc runs each group in its own network "
        "namespace (ai_network_mode: group): localhost there is models's own container, not "
        "core's; set ai_network_mode: pod for mainpc")
    pod_link = next(lk for lk in plan_of(pod(localhost_link(inventory)))["mainpc"]["checks"]["links"]
                    if lk["name"] == "Twin")
    assert pod_link["address"] == "127.0.0.1" and pod_link["note"] == ""


def test_verify_says_why_a_localhost_link_fails(production):
    """Production's memory-system reaches SystemDigitalTwin at localhost; run
    MainPC with one namespace per group and verify's failure says why."""
    production["mainpc"]["ai_network_mode"] = "group"
    plan = plan_of(production)
    results = {name: healthy_host_results(host_plan) for name, host_plan in plan.items()}
    entry, endpoint = endpoint_result(results, "mainpc", "memory-system", "SystemDigitalTwin")
    assert endpoint["address"] == "127.0.0.1"
    endpoint.update(ok=False, verdict=None, stage_reached="resolve", failed_stage="tcp",
                    reason="connection refused", rtt_ms=None, reply=None, zmtp=None)
    entry["failed_count"] = 1
    report = rc.build_report(plan, results)
    assert report["problems"] == [
        "mainpc: link memory-system -> mainpc/core-services SystemDigitalTwin 127.0.0.1:7120 "
        "(main): tcp failed: connection refused -- memory-system reaches SystemDigitalTwin at "
        "localhost, but mainpc runs each group in its own network namespace (ai_network_mode: "
        "group): localhost there is memory-system's own container, not core-services's; set "
        "ai_network_mode: pod for mainpc"]


def test_a_passing_link_carries_no_note(production):
    production["mainpc"]["ai_network_mode"] = "group"
    plan = plan_of(production)
    results = {name: healthy_host_results(host_plan) for name, host_plan in plan.items()}
    report = rc.build_report(plan, results)
    link = next(i for i in report["hosts"]["mainpc"]["links"] if i["name"] == "SystemDigitalTwin")
    assert link["status"] == "passed" and "localhost" not in link["reason"]


def test_localhost_link_to_another_host_is_located(inventory):
    inventory["pc2"]["ai_groups"]["store"]["connects_to"] = [{"agent": "Twin", "localhost": True}]
    assert "host pc2, group store, field connects_to: connects_to Twin says localhost, but " \
        "Twin runs on host mainpc -- localhost reaches only agents of the same host: remove " \
        "'localhost: true' (the plan gives the agent's LAN address)" in errors_of(inventory)


def test_localhost_must_be_true_or_false(inventory):
    inventory["mainpc"]["ai_groups"]["models"]["connects_to"] = [
        {"agent": "Twin", "localhost": "yes"}]
    assert any(e.startswith("host mainpc, group models, field connects_to.localhost: ")
               for e in errors_of(inventory))


# -- the pod unit's image -------------------------------------------------------

def _pod_unit_image(inventory):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    units = result["hosts"]["mainpc"]["units"]
    pod = next(u for u in units if u["group"] == "pod")
    text = result["hosts"]["mainpc"]["quadlet"][pod["unit_file"]]
    return pod["image"], [line for line in text.splitlines() if line.startswith("Image=")]


def test_the_pod_unit_runs_a_probed_group_image_or_the_one_named(production):
    image, lines = _pod_unit_image(production)
    assert lines == ["Image=%s" % image]
    production["mainpc"]["ai_pod_image"] = "localhost/ai-system/pause-python:1"
    image, lines = _pod_unit_image(production)
    assert (image, lines) == ("localhost/ai-system/pause-python:1",
                              ["Image=localhost/ai-system/pause-python:1"])


@pytest.mark.parametrize("value", ["-v /:/host", "x.build", 7, "a b"])
def test_a_pod_image_that_is_no_image_reference_is_refused_naming_host_and_field(production, value):
    production["mainpc"]["ai_pod_image"] = value
    errors = build_plan(production)["errors"]
    assert [e for e in errors if e.startswith("host mainpc, field ai_pod_image: ai_pod_image ")], errors


def test_the_pod_unit_prefers_a_group_image_the_collection_does_not_build(production, tmp_path):
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    first = plan_of(production)["mainpc"]
    order = [u["group"] for u in first["units"] if u["group"] != "pod"]
    probed = [g for g in order if production["mainpc"]["ai_groups"][g].get("agents")]
    for host in production:
        production[host]["ai_images"] = {"agents": {"context": str(tmp_path)}}
    # The first probed group now runs an image of ai_images: the pod takes the next one's.
    production["mainpc"]["ai_groups"][probed[0]]["image"] = {"name": "agents"}
    image, _lines = _pod_unit_image(production)
    assert ":src-" not in image
    assert image == plan_of(production)["mainpc"]["units"][order.index(probed[1]) + 1]["image"]
