# -*- coding: utf-8 -*-
"""Every validation rule of the plan: a bad input with its message, and a passing case."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import Problem
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import (
    build_plan, plan_stack,
)


def errors_of(inventory):
    result = build_plan(inventory)
    assert result["ok"] is (not result["errors"])
    if result["errors"]:
        assert result["hosts"] == {}, "nothing may be rendered from a broken inventory"
    return result["errors"]


def only_error(inventory):
    errs = errors_of(inventory)
    assert len(errs) == 1, errs
    return errs[0]


def groups(inv, host):
    return inv[host]["ai_groups"]


# -- the sound cases ----------------------------------------------------------

def test_small_inventory_is_sound(inventory):
    assert errors_of(inventory) == []


def test_a_broken_inventory_plans_no_host_and_names_its_problems(inventory):
    groups(inventory, "pc2")["store"]["depends_on"] = ["nothing"]
    plan = plan_stack(inventory)
    assert not plan.ok and dict(plan.hosts) == {}
    assert all(isinstance(p, Problem) for p in plan.problems)
    assert plan.as_dict() == build_plan(inventory)
    assert plan.as_dict()["errors"] == [str(p) for p in plan.problems]
    assert plan.as_dict()["problems"][0]["field"] == "depends_on"


def test_production_inventory_renders_cleanly(production):
    result = build_plan(production)
    assert result["errors"] == []
    assert result["warnings"] == []
    assert sorted(result["hosts"]) == ["mainpc", "pc2"]
    # 10 agent groups, Redis and the pod unit (ai_network_mode: pod)
    assert len(result["hosts"]["mainpc"]["units"]) == 12
    assert len(result["hosts"]["pc2"]["units"]) == 7
    agents = sum(len(u["agents"]) for p in result["hosts"].values() for u in p["units"])
    assert agents == 76


def test_reference_topology_fails_with_exactly_its_six_port_clashes(reference):
    result = build_plan(reference)
    expected = [
        ("mainpc", 6575, "ai-models-gpu-services/GGUFModelManager health_port",
         "audio-processing/AudioCapture port"),
        ("mainpc", 6577, "audio-processing/StreamingInterruptHandler health_port",
         "audio-processing/WakeWordDetector port"),
        ("mainpc", 6578, "audio-processing/FusedAudioPreprocessor port",
         "audio-processing/WakeWordDetector health_port"),
        ("mainpc", 6580, "learning-knowledge/LearningManager health_port",
         "audio-processing/StreamingSpeechRecognition port"),
        ("pc2", 7150, "pc2-core-infrastructure/ErrorBusService port",
         "pc2-ai-monitoring/VisionProcessingAgent port"),
        ("pc2", 8131, "pc2-ai-models/TieredResponder health_port",
         "pc2-user-services/TutoringAgent health_port"),
    ]
    assert len(result["errors"]) == 6, result["errors"]
    for (host, port, first, second), text in zip(expected, result["errors"]):
        assert text.startswith("host %s," % host)
        assert "port %d is claimed by both" % port in text
        assert first in text and second in text
        assert text.endswith("a free port in host_vars/%s/groups.yml" % host), text
    # The shared, unbudgeted GPU of the original is flagged too (as a warning).
    assert any("without a VRAM budget" in w for w in result["warnings"])


def test_all_problems_are_reported_in_one_run(inventory):
    groups(inventory, "mainpc")["core"]["memory"] = "lots"
    groups(inventory, "pc2")["store"]["depends_on"] = ["nothing"]
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["port"] = 80
    assert len(errors_of(inventory)) == 3


# -- ports --------------------------------------------------------------------

def test_port_used_twice_across_groups(inventory):
    groups(inventory, "mainpc")["models"]["agents"]["ModelManager"]["health_port"] = 7121
    text = only_error(inventory)
    assert "host mainpc" in text and "port 7121 is claimed by both" in text
    assert "core/Coordinator port" in text and "models/ModelManager health_port" in text


def test_port_of_a_service_clashes_with_an_agent(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["health_port"] = 6379
    text = only_error(inventory)
    assert "port 6379" in text and "redis redis" in text and "store/Memory health_port" in text


def test_agent_main_and_health_port_equal(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["health_port"] = 7140
    assert "store/Memory port and store/Memory health_port" in only_error(inventory)


def test_three_claimants_are_one_problem(inventory):
    g = groups(inventory, "mainpc")
    g["core"]["agents"]["Coordinator"]["port"] = 7120
    g["models"]["agents"]["ModelManager"]["port"] = 7120
    assert "port 7120 is claimed by all 3 of" in only_error(inventory)


def test_same_port_on_two_hosts_is_fine(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["port"] = 7121
    assert errors_of(inventory) == []


@pytest.mark.parametrize("port, words", [
    (80, "port 80 is privileged/reserved"),
    (1023, "port 1023 is privileged/reserved"),
    (65536, "port 65536 is out of range"),
    (-5, "port -5 is out of range"),
    ("abc", "port 'abc' is not a whole number"),
    (7.5, "port 7.5 is not a whole number"),
    (True, "port True is not a whole number"),
])
def test_bad_ports(inventory, port, words):
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["port"] = port
    text = only_error(inventory)
    assert words in text
    assert "agent Memory, field port" in text and "between 1024 and 65535" in text


def test_ports_at_the_edges_are_accepted(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Memory"] = {"port": 1024, "health_port": 65535}
    assert errors_of(inventory) == []


# -- depends_on ---------------------------------------------------------------

def test_unknown_dependency_with_suggestion(inventory):
    groups(inventory, "mainpc")["models"]["depends_on"] = ["cores"]
    text = only_error(inventory)
    assert "group models, field depends_on: depends_on names unknown group 'cores'" in text
    assert "did you mean 'core'?" in text


def test_dependency_cycle(inventory):
    groups(inventory, "mainpc")["core"]["depends_on"] = ["models"]
    assert "depends_on forms a cycle: core -> models -> core" in only_error(inventory)


def test_self_dependency(inventory):
    groups(inventory, "mainpc")["core"]["depends_on"] = ["core"]
    assert "group depends on itself" in only_error(inventory)


def test_cross_host_dependency(inventory):
    groups(inventory, "mainpc")["models"]["depends_on"] = ["core", "store"]
    text = only_error(inventory)
    assert "depends_on 'store' is a group on host pc2" in text
    assert "connects_to" in text


# -- connects_to --------------------------------------------------------------

def test_connects_to_unknown_agent(inventory):
    groups(inventory, "mainpc")["models"]["connects_to"] = ["Memroy"]
    text = only_error(inventory)
    assert "connects_to 'Memroy' names no agent" in text and "did you mean 'Memory'?" in text


def test_connects_to_ambiguous_name(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Twin"] = {"port": 7150, "health_port": 7151}
    groups(inventory, "pc2")["redis"]["connects_to"] = ["Twin"]
    errs = errors_of(inventory)
    assert len(errs) == 2  # store's and redis's references are both ambiguous
    assert all("is ambiguous: mainpc/Twin (group core), pc2/Twin (group store)" in e
               for e in errs)
    assert all("qualify it with the host" in e for e in errs)


def test_qualified_name_resolves_the_ambiguity(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Twin"] = {"port": 7150, "health_port": 7151}
    groups(inventory, "pc2")["store"]["connects_to"] = ["mainpc/Twin"]
    assert errors_of(inventory) == []


def test_connects_to_unknown_host(inventory):
    groups(inventory, "pc2")["store"]["connects_to"] = ["pc3/Twin"]
    assert "connects_to 'pc3/Twin' names unknown host 'pc3'" in only_error(inventory)


# -- GPUs ---------------------------------------------------------------------

def test_gpu_group_on_host_without_gpu(inventory):
    groups(inventory, "pc2")["store"]["gpu"] = {"devices": [0], "vram_mib": 1000}
    text = only_error(inventory)
    assert "host pc2, group store, field gpu: group asks for a GPU but the host declares none" \
        in text


def test_vram_over_subscription(inventory):
    g = groups(inventory, "mainpc")
    g["core"]["gpu"] = {"vram_mib": 20000}
    text = only_error(inventory)
    assert "VRAM budgets add up to 28000 MiB (core 20000, models 8000)" in text
    assert "more than the 24564 MiB of the host's RTX 4090" in text


def test_gpu_index_beyond_the_host(inventory):
    groups(inventory, "mainpc")["models"]["gpu"]["devices"] = [1]
    assert "gpu device 1 does not exist: the host declares 1 GPU(s)" in only_error(inventory)


def test_raw_nvidia_device_is_refused(inventory):
    groups(inventory, "mainpc")["core"]["devices"] = ["/dev/nvidia0"]
    assert "declare 'gpu:' instead" in only_error(inventory)


def test_raw_device_as_gpu_device_is_refused(inventory):
    groups(inventory, "mainpc")["models"]["gpu"]["devices"] = ["/dev/nvidia0"]
    assert "is a raw device, not a CDI device" in only_error(inventory)


def test_unknown_gpu_capability(inventory):
    groups(inventory, "mainpc")["models"]["gpu"]["capabilities"] = ["compute", "cuda"]
    assert "gpu capability 'cuda' is unknown" in only_error(inventory)


def test_bad_vram_budget(inventory):
    groups(inventory, "mainpc")["models"]["gpu"]["vram_mib"] = "8G"
    assert "vram_mib '8G' is not a positive whole number of MiB" in only_error(inventory)


# -- GPU sharing with CUDA MPS -----------------------------------------------

def mps_inventory(inventory, **gpu):
    inventory["mainpc"]["ai_gpu"].update(sharing="mps", **gpu)
    groups(inventory, "mainpc")["core"]["gpu"] = {"devices": ["all"], "vram_mib": 4096}
    return inventory


def test_mps_with_budgets_on_every_gpu_group_is_sound(inventory):
    assert errors_of(mps_inventory(inventory, vram_reserve_mib=2048)) == []


def test_mps_refuses_a_gpu_group_without_budget_naming_it(inventory):
    mps_inventory(inventory)
    del groups(inventory, "mainpc")["models"]["gpu"]["vram_mib"]
    text = only_error(inventory)
    assert text.startswith("host mainpc, group models, field gpu.vram_mib: group has no VRAM "
                           "budget, but ai_gpu.sharing is mps")
    assert "set gpu.vram_mib (MiB) on the group, or ai_gpu.sharing: none" in text


def test_mps_budgets_and_reserve_must_fit_the_gpu(inventory):
    mps_inventory(inventory, vram_reserve_mib=12469)  # 4096 + 8000 + 12469 = 24565 > 24564
    text = only_error(inventory)
    assert "VRAM budgets add up to 24565 MiB (core 4096, models 8000, " \
        "ai_gpu.vram_reserve_mib 12469), more than the 24564 MiB of the host's RTX 4090" in text


def test_mps_budgets_and_reserve_that_fill_the_gpu_exactly_fit(inventory):
    assert errors_of(mps_inventory(inventory, vram_reserve_mib=12468)) == []


def test_the_reserve_counts_without_mps_too(inventory):
    inventory["mainpc"]["ai_gpu"]["vram_reserve_mib"] = 20000
    assert "VRAM budgets add up to 28000 MiB (models 8000, ai_gpu.vram_reserve_mib 20000)" \
        in only_error(inventory)


def test_mps_budgets_are_summed_per_gpu(inventory):
    mps_inventory(inventory)
    inventory["mainpc"]["ai_gpu"]["count"] = 2
    g = groups(inventory, "mainpc")
    g["core"]["gpu"] = {"devices": [0], "vram_mib": 20000}
    g["models"]["gpu"]["devices"] = [1]
    assert errors_of(inventory) == []  # 20000 on GPU 0, 8000 on GPU 1
    g["models"]["gpu"]["devices"] = [0]
    assert "VRAM budgets add up to 28000 MiB (core 20000, models 8000), more than the " \
        "24564 MiB of the host's RTX 4090 (GPU 0)" in only_error(inventory)


@pytest.mark.parametrize("devices,count", [(["all"], 2), ([0, 1], 2), (["GPU-0a1b"], 1)])
def test_mps_needs_each_gpu_group_on_one_gpu(inventory, devices, count):
    mps_inventory(inventory)
    inventory["mainpc"]["ai_gpu"]["count"] = count
    groups(inventory, "mainpc")["core"]["gpu"]["devices"] = [0]
    groups(inventory, "mainpc")["models"]["gpu"]["devices"] = devices
    text = only_error(inventory)
    assert text.startswith("host mainpc, group models, field gpu.devices: gpu.devices ")
    assert "do not name one GPU: each MPS daemon serves one GPU" in text


def test_mps_refuses_a_user_namespace_on_a_gpu_group(inventory):
    mps_inventory(inventory)
    groups(inventory, "mainpc")["models"]["security"] = {"userns": "auto"}
    text = only_error(inventory)
    assert text.startswith("host mainpc, group models, field security.userns: security.userns "
                           "'auto' cannot be used with MPS: the MPS control daemon runs one "
                           "server per user ID")


def test_a_user_namespace_elsewhere_is_fine_with_mps(inventory):
    mps_inventory(inventory)
    del groups(inventory, "mainpc")["core"]["gpu"]
    groups(inventory, "mainpc")["core"]["security"] = {"userns": "auto"}
    assert errors_of(inventory) == []


def test_unknown_sharing_is_refused(inventory):
    inventory["mainpc"]["ai_gpu"]["sharing"] = "time-slicing"
    text = only_error(inventory)
    assert text.startswith("host mainpc, field ai_gpu.sharing: ai_gpu.sharing 'time-slicing' "
                           "is unknown")


@pytest.mark.parametrize("reserve", [-1, "1G", True])
def test_bad_reserve_is_refused(inventory, reserve):
    inventory["mainpc"]["ai_gpu"]["vram_reserve_mib"] = reserve
    assert "ai_gpu.vram_reserve_mib %r is not a whole number of MiB" % (reserve,) \
        in only_error(inventory)


@pytest.mark.parametrize("percent", [0, 101, "50%", 2.5, True])
def test_bad_compute_percent_is_refused(inventory, percent):
    mps_inventory(inventory)
    groups(inventory, "mainpc")["models"]["gpu"]["compute_percent"] = percent
    text = only_error(inventory)
    assert text.startswith("host mainpc, group models, field gpu.compute_percent: "
                           "compute_percent %r is not a whole number from 1 to 100" % (percent,))


def test_compute_percent_needs_mps(inventory):
    groups(inventory, "mainpc")["models"]["gpu"]["compute_percent"] = 50
    assert "gpu.compute_percent takes effect only with CUDA MPS" in only_error(inventory)


def test_unbudgeted_gpu_sharing_is_a_warning(inventory):
    g = groups(inventory, "mainpc")
    g["core"]["gpu"] = True
    result = build_plan(inventory)
    assert result["errors"] == []
    assert result["warnings"] == [
        "host mainpc: GPU groups core share the GPU without a VRAM budget (gpu.vram_mib)"]


# -- sizes --------------------------------------------------------------------

@pytest.mark.parametrize("value, words", [
    ("lots", "memory 'lots' is not a size"),
    ("12x", "memory '12x' is not a size"),
    ("1k", "below Podman's minimum of 6 MiB"),
    ([1], "memory [1] is not a size"),
])
def test_bad_memory(inventory, value, words):
    groups(inventory, "mainpc")["core"]["memory"] = value
    text = only_error(inventory)
    assert words in text and "group core, field memory" in text


@pytest.mark.parametrize("value, expected", [
    ("512m", "--memory=512m"), ("2g", "--memory=2048m"), ("1536M", "--memory=1536m"),
    ("1.5g", "--memory=1536m"), ("2GiB", "--memory=2048m"), (104857600, "--memory=100m"),
])
def test_good_memory_is_normalized(inventory, value, expected):
    groups(inventory, "mainpc")["core"]["memory"] = value
    result = build_plan(inventory)
    assert result["errors"] == []
    assert expected in result["hosts"]["mainpc"]["quadlet"]["ai-core.container"]


@pytest.mark.parametrize("value, words", [
    ("two", "cpus 'two' is not a number"),
    (0, "cpus 0 is out of range"),
    (-1, "cpus -1 is out of range"),
    (True, "cpus True is not a number"),
])
def test_bad_cpus(inventory, value, words):
    groups(inventory, "mainpc")["core"]["cpus"] = value
    assert words in only_error(inventory)


# -- names --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Core", "core_services", "-core", "core.", "a" * 64, "k\u00e9"])
def test_invalid_group_names(inventory, name):
    g = groups(inventory, "mainpc")
    g[name] = g.pop("core")
    g["models"]["depends_on"] = []
    text = only_error(inventory)
    assert "is not a valid container/unit name" in text and repr(name) in text


@pytest.mark.parametrize("name", ["1Agent", "My-Agent", "Agent Name", ""])
def test_invalid_agent_names(inventory, name):
    groups(inventory, "pc2")["store"]["agents"][name] = {"port": 7200, "health_port": 7201}
    text = only_error(inventory)
    assert "agent name %r is not valid" % name in text


def test_same_group_name_on_two_hosts(inventory):
    groups(inventory, "pc2")["core"] = {"agents": {"Other": {"port": 7300}}}
    assert "group name is used on hosts mainpc and pc2" in only_error(inventory)


def test_same_agent_twice_on_a_host(inventory):
    groups(inventory, "mainpc")["models"]["agents"]["Twin"] = {"port": 7300, "health_port": 7301}
    assert "agent name is also used by group core on this host" in only_error(inventory)


# -- secrets ------------------------------------------------------------------

def test_secret_referenced_but_not_defined(inventory):
    groups(inventory, "pc2")["store"]["secrets"] = ["db_password"]
    text = only_error(inventory)
    assert "host pc2, group store, field secrets: secret 'db_password' is referenced but " \
           "not defined" in text and "ai_secrets" in text


def test_secret_type_and_target_are_checked(inventory):
    groups(inventory, "mainpc")["models"]["secrets"] = [{"name": "token", "type": "file"}]
    assert "secret token has type 'file'" in only_error(inventory)


# -- unknown keys ---------------------------------------------------------------

def test_typo_in_group_key(inventory):
    groups(inventory, "mainpc")["models"]["depend_on"] = ["core"]
    text = only_error(inventory)
    assert "group models, field depend_on: unknown key 'depend_on' in group" in text
    assert "did you mean 'depends_on'?" in text


def test_typo_in_agent_key(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["heath_port"] = 7141
    assert "unknown key 'heath_port' in agent" in "\n".join(errors_of(inventory))


def test_typo_in_gpu_key(inventory):
    groups(inventory, "mainpc")["models"]["gpu"]["vram"] = 100
    assert "unknown key 'vram' in gpu -- did you mean 'vram_mib'?" in only_error(inventory)


# -- host settings ------------------------------------------------------------

def test_bad_lan_address(inventory):
    inventory["pc2"]["ai_lan_address"] = "pc2.local"
    text = only_error(inventory)
    assert "ai_lan_address 'pc2.local' is not an IP address" in text
    # The fix names the file the host's settings live in (host_vars/<host>/).
    assert text.endswith("LAN address in host_vars/pc2/host.yml"), text


def test_port_clash_fix_names_the_groups_file(inventory):
    groups(inventory, "pc2")["store"]["agents"]["Memory"]["health_port"] = 6379
    assert only_error(inventory).endswith(
        "give all but one of them a free port in host_vars/pc2/groups.yml")


def test_group_override_naming_an_unknown_group(inventory):
    inventory["mainpc"]["ai_group_overrides"] = {"modles": {"memory": "1g"}}
    assert only_error(inventory) == (
        "host mainpc, field ai_group_overrides: ai_group_overrides names unknown group "
        "'modles' -- did you mean 'models'?")


def test_group_override_naming_a_group_of_the_other_host(inventory):
    inventory["mainpc"]["ai_group_overrides"] = {"redis": {"memory": "1g"}}
    text = only_error(inventory)
    assert text.startswith("host mainpc, field ai_group_overrides: ai_group_overrides names "
                           "unknown group 'redis'")
    assert "allowed keys: core, models" in text


def test_group_overrides_must_be_a_mapping(inventory):
    inventory["pc2"]["ai_group_overrides"] = ["store"]
    assert only_error(inventory) == (
        "host pc2, field ai_group_overrides: ai_group_overrides must be a mapping of group "
        "name to settings")


def test_group_override_is_validated_like_the_group(inventory):
    inventory["mainpc"]["ai_group_overrides"] = {"models": {"cpus": "many", "memroy": "1g"}}
    errs = errors_of(inventory)
    assert len(errs) == 2, errs
    assert "host mainpc, group models, field cpus: cpus 'many' is not a number" in errs[0] + errs[1]
    assert "unknown key 'memroy' in group -- did you mean 'memory'?" in errs[0] + errs[1]


@pytest.mark.parametrize("value, words", [
    ("two", "cpus 'two' is not a number"),
    (0, "cpus 0 is out of range"),
    (-0.5, "cpus -0.5 is out of range"),
    (True, "cpus True is not a number"),
    ([1], "cpus [1] is not a number"),
])
def test_bad_max_cpus(inventory, value, words):
    inventory["mainpc"]["ai_max_cpus"] = value
    assert only_error(inventory).startswith("host mainpc, field ai_max_cpus: " + words)


def test_two_hosts_with_one_address(inventory):
    inventory["pc2"]["ai_lan_address"] = "10.0.0.16"
    assert "ai_lan_address 10.0.0.16 is also the address of host mainpc" in only_error(inventory)


def test_missing_image(inventory):
    del inventory["pc2"]["ai_group_defaults"]
    text = only_error(inventory)
    assert "host pc2, group store, field image: group has no image" in text


def test_volume_syntax(inventory):
    groups(inventory, "pc2")["store"]["volumes"] = ["/only-one-part"]
    assert "is not SOURCE:TARGET[:OPTIONS]" in only_error(inventory)


def test_service_port_group_needs_a_health_command(inventory):
    del groups(inventory, "pc2")["redis"]["health"]
    assert "set health.cmd (e.g. 'redis-cli ping') or health: false" in only_error(inventory)


# -- health policy -------------------------------------------------------------------


def only_problem(inventory):
    """The one problem, as located data (host, group, agent, field, message, fix)."""
    result = build_plan(inventory)
    assert len(result["problems"]) == 1, result["errors"]
    assert result["hosts"] == {}
    return result["problems"][0]


def test_health_policy_unknown_key_names_host_group_agent_and_field(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["agents"]["Twin"] = {
        "port": 7120, "health_port": 8120, "health_policy": {"healty": ["ok"]}}
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"], problem["agent"], problem["field"]) == (
        "mainpc", "core", "Twin", "health_policy.healty")
    assert "unknown key 'healty'" in problem["message"]
    assert "request, healthy, degraded, required_keys" in problem["fix"]


def test_a_status_in_both_sets_is_refused_case_insensitively(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["health_policy"] = {"degraded": ["OK"]}
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"], problem["agent"], problem["field"]) == (
        "mainpc", "core", "", "health_policy.degraded")
    assert "'ok'" in problem["message"] and "healthy" in problem["message"]


def test_a_conflict_made_by_two_layers_is_located_at_the_agent(inventory):
    inventory["mainpc"]["ai_groups"]["core"]["health_policy"] = {"degraded": ["sick"]}
    inventory["mainpc"]["ai_groups"]["core"]["agents"]["Twin"] = {
        "port": 7120, "health_port": 8120, "health_policy": {"healthy": ["sick"]}}
    problem = only_problem(inventory)
    assert (problem["group"], problem["agent"], problem["field"]) == (
        "core", "Twin", "health_policy.degraded")


@pytest.mark.parametrize("policy, fld, words", [
    ({"healthy": []}, "health_policy.healthy", "is empty"),
    ({"degraded": []}, "health_policy.degraded", "is empty"),
    ({"healthy": "ok"}, None, None),  # one status as text is fine
    ({"healthy": [1]}, "health_policy.healthy", "not a non-empty status"),
    ({"request": "health_check"}, "health_policy.request", "non-empty mapping"),
    ({"required_keys": ["ready"]}, "health_policy.required_keys", "must include 'status'"),
])
def test_bad_policy_values(inventory, policy, fld, words):
    inventory["pc2"]["ai_groups"]["store"]["health_policy"] = policy
    if fld is None:
        assert errors_of(inventory) == []
        return
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"], problem["field"]) == ("pc2", "store", fld)
    assert words in problem["message"]


def test_a_bad_global_policy_is_reported_once_per_host_not_per_group(inventory):
    for host in ("mainpc", "pc2"):
        inventory[host]["ai_group_defaults"] = dict(
            inventory[host].get("ai_group_defaults") or {}, health_policy={"healthy": []})
    result = build_plan(inventory)
    assert sorted((p["host"], p["group"], p["field"]) for p in result["problems"]) == [
        ("mainpc", "", "health_policy.healthy"), ("pc2", "", "health_policy.healthy")]
    assert result["hosts"] == {}


def test_connects_to_entry_as_mapping(inventory):
    group = inventory["mainpc"]["ai_groups"]["models"]
    group["connects_to"] = [{"agent": "Memory", "strict": "yes"}]
    problem = only_problem(inventory)
    assert (problem["group"], problem["field"]) == ("models", "connects_to.strict")
    group["connects_to"] = [{"agent": "Memory", "stict": True}]
    problem = only_problem(inventory)
    assert problem["field"] == "stict" and "did you mean 'strict'" in problem["fix"]
    group["connects_to"] = [{"strict": True}]
    assert "names no agent" in only_problem(inventory)["message"]
