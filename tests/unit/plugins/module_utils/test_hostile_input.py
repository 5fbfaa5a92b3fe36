# -*- coding: utf-8 -*-
"""Hostile or careless inventory values: each is refused by the plan with its
location and a fix (never a crash, never a unit that escapes its line), or is
written so that systemd reads it back unchanged."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.quadlet import generated_service, needs_quadlet


def problems_of(inventory):
    result = build_plan(inventory)
    assert result["hosts"] == {} or not result["problems"]
    return result["problems"]


def the_problem(inventory, **where):
    """The one problem located at ``where`` (host, group, agent, field)."""
    found = [p for p in problems_of(inventory)
             if all(p[key] == value for key, value in where.items())]
    assert len(found) == 1, problems_of(inventory)
    assert found[0]["fix"], found[0]
    return found[0]


def core(inv):
    return inv["mainpc"]["ai_groups"]["core"]


# -- unit-file injection --------------------------------------------------------

@pytest.mark.parametrize("char", ["\r", "\x00", "\n", "\x1b", "\x7f", "\x0b"])
def test_control_character_in_description_cannot_inject_a_section(inventory, char):
    core(inventory)["description"] = "x%s[Service]%sExecStartPre=/bin/sh -c id" % (char, char)
    problem = the_problem(inventory, host="mainpc", group="core", field="description")
    assert "control character" in problem["message"]


@pytest.mark.parametrize("path,where", [
    (("env", "TOKEN"), {"field": "env.TOKEN"}),
    (("health", "cmd"), {"field": "health.cmd"}),
    (("security", "userns"), {"field": "security.userns"}),
    (("command",), {"field": "command"}),
])
def test_carriage_return_in_any_group_value_is_located(inventory, path, where):
    spec = core(inventory)
    for key in path[:-1]:
        spec = spec.setdefault(key, {})
    spec[path[-1]] = "ok\rExecStartPre=/bin/touch /pwned"
    assert "control character" in the_problem(inventory, host="mainpc", group="core",
                                              **where)["message"]


def test_nul_in_a_volume_option_is_located(inventory):
    core(inventory)["volumes"] = [{"source": "/srv/ai/data", "target": "/data",
                                   "options": ["ro\x00"]}]
    the_problem(inventory, host="mainpc", group="core", field="volumes[0].options[0]")


def test_control_character_in_agent_policy_names_the_agent(inventory):
    core(inventory)["agents"]["Twin"]["health_policy"] = {"healthy": ["ok\r"]}
    problem = the_problem(inventory, host="mainpc", group="core", agent="Twin",
                          field="agents.Twin.health_policy.healthy[0]")
    assert "control character" in problem["message"]


def test_control_character_in_group_defaults_is_located(inventory):
    inventory["mainpc"]["ai_group_defaults"]["image"] = "localhost/agents:1\r"
    problem = [p for p in problems_of(inventory) if p["field"] == "ai_group_defaults.image"]
    assert problem and problem[0]["host"] == "mainpc"


def test_trailing_backslash_cannot_swallow_the_next_directive(inventory):
    core(inventory)["description"] = "core group \\"
    problem = the_problem(inventory, host="mainpc", group="core", field="description")
    assert "backslash" in problem["message"]


def test_group_name_with_trailing_newline_is_a_plan_problem_not_a_crash(inventory):
    groups = inventory["mainpc"]["ai_groups"]
    groups["core\n"] = groups.pop("core")
    groups["models"]["depends_on"] = []
    texts = [p["text"] for p in problems_of(inventory)]
    assert any("not a valid container/unit name" in t for t in texts), texts


def test_agent_name_with_trailing_newline_is_refused(inventory):
    agents = core(inventory)["agents"]
    agents["Twin\n"] = agents.pop("Twin")
    assert problems_of(inventory)


def test_percent_specifier_is_written_literally(inventory):
    core(inventory)["env"] = {"DB_URL": "redis://user%40host/%h"}
    core(inventory)["description"] = "100% core"
    unit = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]["ai-core.container"]
    assert "Environment=DB_URL=redis://user%%40host/%%h" in unit
    assert "Description=100%% core" in unit


def test_dollar_is_not_expanded_by_systemd(inventory):
    core(inventory)["env"] = {"PASSWORD": "pa$word${HOME}"}
    unit = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]["ai-core.container"]
    assert "Environment=PASSWORD=pa$$word$${HOME}" in unit


def test_format_value_refuses_what_the_plan_would_refuse():
    for text in ("a\rb", "a\x00", "end\\"):
        with pytest.raises(ValueError):
            quadlet.format_value(text, "Container")
    assert quadlet.format_value("a\tb", "Container") == "a\tb"


@pytest.mark.podman
@needs_quadlet
def test_quadlet_passes_escaped_values_to_systemd_verbatim(tmp_path, inventory):
    """Quadlet copies %% and $$ into ExecStart=, where systemd reads them as
    a literal % and $ (systemd.service(5), "Command lines")."""
    core(inventory)["env"] = {"URL": "a%40b$c"}
    files = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]
    service = generated_service(files, tmp_path, "ai-core.service")
    exec_start = [line for line in service.splitlines() if line.startswith("ExecStart=")]
    assert len(exec_start) == 1 and "--env URL=a%%40b$$c " in exec_start[0]


# -- names that would share a systemd service ---------------------------------

def test_group_named_like_the_network_service_is_refused(inventory):
    inventory["mainpc"]["ai_groups"]["system-network"] = {
        "agents": {"Extra": {"port": 7300, "health_port": 8300}}}
    problem = the_problem(inventory, host="mainpc", group="system-network")
    assert "ai-system-network.service" in problem["message"]


def test_group_named_like_a_volume_service_is_refused(inventory):
    groups = inventory["pc2"]["ai_groups"]
    groups["redis-data-volume"] = {"agents": {"Extra": {"port": 7300, "health_port": 8300}}}
    problem = the_problem(inventory, host="pc2", group="redis-data-volume")
    assert "volume redis-data" in problem["message"]


# -- addresses and settings ---------------------------------------------------

@pytest.mark.parametrize("address,why", [
    ("0.0.0.0", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("224.0.0.1", "unicast"),
    ("fd00::16", "IPv6"),
])
def test_lan_address_that_publishes_everywhere_or_nowhere_is_refused(inventory, address, why):
    inventory["mainpc"]["ai_lan_address"] = address
    problem = the_problem(inventory, host="mainpc", field="ai_lan_address")
    assert why in problem["message"] and "host_vars/mainpc/host.yml" in problem["fix"]


def test_ipv6_container_subnet_is_refused(inventory):
    inventory["mainpc"]["ai_network_subnet"] = "fd00:20::/64"
    the_problem(inventory, host="mainpc", field="ai_network_subnet")


@pytest.mark.parametrize("var,value", [("ai_start_timeout", -5), ("ai_start_timeout", 0),
                                       ("ai_restart_sec", -1)])
def test_negative_timeouts_are_refused(inventory, var, value):
    inventory["mainpc"][var] = value
    assert "at least" in problems_of(inventory)[0]["message"]


@pytest.mark.parametrize("var", ["ai_config_dir", "ai_quadlet_dir"])
@pytest.mark.parametrize("value", ["etc/ai-system", "/etc/../tmp/x", "/etc/ai-system/"])
def test_relative_or_unnormalised_directories_are_refused(inventory, var, value):
    inventory["mainpc"][var] = value
    the_problem(inventory, host="mainpc", field=var)


@pytest.mark.parametrize("key,value", [("interval", "often"), ("timeout", "0s"),
                                       ("interval", "-5s"), ("start_period", "soon")])
def test_health_timings_must_be_positive_durations(inventory, key, value):
    core(inventory)["health"] = {key: value}
    the_problem(inventory, host="mainpc", group="core", field="health.%s" % key)


def test_health_start_period_may_be_zero(inventory):
    core(inventory)["health"] = {"start_period": "0s", "interval": "1m30s"}
    assert problems_of(inventory) == []


def test_published_service_port_is_refused_not_ignored(inventory):
    inventory["pc2"]["ai_groups"]["redis"]["ports"] = [{"port": 6379, "publish": True}]
    problem = the_problem(inventory, host="pc2", group="redis", field="ports")
    assert "connects_to" in problem["fix"]


@pytest.mark.parametrize("image", ["--privileged", "-v/:/host", "local/agents.build",
                                   "x.image", "img name"])
def test_image_that_is_an_option_or_a_unit_is_refused(inventory, image):
    core(inventory)["image"] = image
    the_problem(inventory, host="mainpc", group="core", field="image")


# -- mounts --------------------------------------------------------------------

@pytest.mark.parametrize("source", ["/", "/etc", "/tmp", "/root", "/usr",
                                    "/var/lib/containers/storage", "/proc/1", "/dev/sda"])
def test_system_directory_mounts_are_refused(inventory, source):
    core(inventory)["volumes"] = ["%s:/data" % source]
    the_problem(inventory, host="mainpc", group="core", field="volumes")


@pytest.mark.parametrize("source", ["/srv/ai/../../etc", "/srv/ai/./data", "/srv//ai",
                                    "/srv/ai/"])
def test_mount_source_with_dot_dot_is_refused(inventory, source):
    core(inventory)["volumes"] = ["%s:/data" % source]
    assert "normalised" in the_problem(inventory, host="mainpc", group="core",
                                       field="volumes")["message"]


def test_two_mounts_on_one_container_path_are_refused(inventory):
    core(inventory)["volumes"] = ["/srv/ai/a:/data"]
    core(inventory)["readonly_mounts"] = ["/srv/ai/b:/data"]
    problem = the_problem(inventory, host="mainpc", group="core", field="readonly_mounts")
    assert "/data" in problem["message"]


def test_mount_over_the_endpoint_map_is_refused(inventory):
    core(inventory)["volumes"] = ["/srv/ai/evil.json:/etc/ai-system/endpoints.json"]
    assert "endpoint map" in the_problem(inventory, host="mainpc", group="core",
                                         field="volumes")["message"]


def test_build_context_must_be_normalised(inventory):
    core(inventory)["build"] = {"context": "/srv/src/../../etc"}
    the_problem(inventory, host="mainpc", group="core", field="build.context")


# -- host directories ------------------------------------------------------------

def host_dirs_of(inventory, host="mainpc"):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    return {d["path"]: d for d in result["hosts"][host]["host_dirs"]}


def test_a_new_host_directory_is_created_root_0755_unless_the_volume_says(inventory):
    core(inventory)["volumes"] = [
        "/srv/ai/logs:/app/logs",
        {"source": "/srv/ai/data", "target": "/app/data", "owner": "ai", "group": 1000,
         "mode": "750"},
        {"source": "/srv/ai/spool", "target": "/app/spool", "mode": "1777"},
    ]
    dirs = host_dirs_of(inventory)
    assert dirs["/srv/ai/logs"] == {"path": "/srv/ai/logs", "owner": "root", "group": "root",
                                    "mode": "0755"}
    assert dirs["/srv/ai/data"] == {"path": "/srv/ai/data", "owner": "ai", "group": "1000",
                                    "mode": "0750"}
    assert dirs["/srv/ai/spool"]["mode"] == "1777"


@pytest.mark.parametrize("mode", ["4755", "2750", "0o750", 750, "rwx", "77777"])
def test_setuid_setgid_or_unquoted_modes_are_refused(inventory, mode):
    core(inventory)["volumes"] = [{"source": "/srv/ai/data", "target": "/data", "mode": mode}]
    the_problem(inventory, host="mainpc", group="core", field="volumes.mode")


@pytest.mark.parametrize("owner", ["-root", "root;id", True, -1, "Root Admin"])
def test_an_owner_that_is_no_user_is_refused(inventory, owner):
    core(inventory)["volumes"] = [{"source": "/srv/ai/data", "target": "/data", "owner": owner}]
    the_problem(inventory, host="mainpc", group="core", field="volumes.owner")


def test_owner_on_a_named_volume_or_readonly_mount_is_refused(inventory):
    core(inventory)["volumes"] = [{"source": "core-data", "target": "/data", "owner": "ai"}]
    core(inventory)["readonly_mounts"] = [{"source": "/srv/ai/certs", "target": "/certs",
                                           "mode": "0700"}]
    problems = [p for p in problems_of(inventory) if p["group"] == "core"]
    assert {p["field"] for p in problems} == {"volumes", "readonly_mounts"}


def test_two_groups_creating_one_directory_differently_are_refused(inventory):
    core(inventory)["volumes"] = [{"source": "/srv/ai/shared", "target": "/s", "mode": "0750"}]
    inventory["mainpc"]["ai_groups"]["models"]["volumes"] = ["/srv/ai/shared:/s"]
    problem = the_problem(inventory, host="mainpc", group="models", field="volumes")
    assert "0750" in problem["message"] and "0755" in problem["message"]


@pytest.mark.parametrize("var,value", [("ai_config_dir", "/"), ("ai_config_dir", "/etc"),
                                       ("ai_config_dir", "/usr/local/bin"), ("ai_config_dir", "/proc/1"),
                                       ("ai_config_dir", "/sys/fs/cgroup"), ("ai_config_dir", "/root"),
                                       ("ai_config_dir", "/var/lib")])
def test_a_system_directory_is_not_the_collections_own(inventory, var, value):
    inventory["mainpc"][var] = value
    problem = the_problem(inventory, host="mainpc", field=var)
    assert "directory of the system itself" in problem["message"]
    assert "/etc/ai-system" in problem["fix"]


@pytest.mark.parametrize("value", ["/etc", "/etc/systemd/system", "/srv/units", "/etc/containers"])
def test_units_go_where_quadlet_reads_them(inventory, value):
    inventory["mainpc"]["ai_quadlet_dir"] = value
    problem = the_problem(inventory, host="mainpc", field="ai_quadlet_dir")
    assert "not a directory Quadlet reads units from" in problem["message"]
    assert "/usr/share/containers/systemd" in problem["fix"]


@pytest.mark.parametrize("value", ["/etc/containers/systemd", "/etc/containers/systemd/ai",
                                   "/usr/share/containers/systemd"])
def test_a_directory_below_quadlets_own_is_accepted(inventory, value):
    inventory["mainpc"]["ai_quadlet_dir"] = value
    assert problems_of(inventory) == []
