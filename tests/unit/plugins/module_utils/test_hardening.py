# -*- coding: utf-8 -*-
"""What an inventory may hand to Podman beyond the plan's fields, judged as
Quadlet reads it: quadlet_options (allow-list, split like Quadlet), mounts,
host paths, devices, host names, Prometheus's exposure and the boot order
behind the firewall. Every hostile value is refused naming host, group and
field, or written so that it is inert."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.host import network_run
from ansible_collections.ai_system.containers.plugins.module_utils.model import quadlet_args
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.quadlet import QUADLET, generated_service, needs_quadlet

IMAGE = "localhost/ai-system/lab-prometheus:latest"
BCRYPT = "$2b$12$N1kZTbQSUCCqK5XJJ66F0etGzpEKDOhhn1fbVMU7Dk53GH2R7M/qW"


def core(inv):
    return inv["mainpc"]["ai_groups"]["core"]


def refused(inventory, field, host="mainpc", group="core"):
    """The problems at ``field``: the plan renders nothing, each names host,
    group and field and says what to do."""
    result = build_plan(inventory)
    assert result["hosts"] == {}, "a hostile value must stop the plan"
    found = [p for p in result["problems"] if p["field"] == field]
    assert found, result["errors"]
    for problem in found:
        assert problem["host"] == host and problem["group"] == group and problem["fix"], problem
    return found


def unit_of(inventory, name="ai-core.container", host="mainpc"):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    return result["hosts"][host]["quadlet"][name]


# -- Quadlet's splitting ----------------------------------------------------------

@pytest.mark.parametrize("value,words", [
    ('"--network=host"', ["--network=host"]),
    ("'--privileged'", ["--privileged"]),
    ("-p0.0.0.0:16379:6379", ["-p0.0.0.0:16379:6379"]),
    ("--pid=host --ipc=host --userns=host", ["--pid=host", "--ipc=host", "--userns=host"]),
    (r"\x2d\x2dprivileged", ["--privileged"]),
    (r"--\u0070rivileged", ["--privileged"]),
    (r"--\160rivileged", ["--privileged"]),
    ("--cap\\x2dadd=ALL", ["--cap-add=ALL"]),
    ("'--pid' host", ["--pid", "host"]),
    ('--"net"work=ho"st"', ["--network=host"]),
    ("-v\\s/:/host", ["-v /:/host"]),
    ('"unterminated word', ["unterminated word"]),
    ("trailing\\", ["trailing"]),
    ("'' --privileged", []),  # an empty word ends Quadlet's split
    ("a \"\" --privileged", ["a"]),
    ("  --init\t\t--tz=local  ", ["--init", "--tz=local"]),
])
def test_split_gives_the_words_quadlet_gives(value, words):
    assert quadlet_args.split(value) == words


@pytest.mark.parametrize("value", ["x\\qy", "--foo\\ bar", "\\x00", "\\u0000", "\\xZZ"])
def test_a_value_quadlet_drops_is_a_split_error(value):
    with pytest.raises(quadlet_args.SplitError):
        quadlet_args.split(value)


SPLIT_CORPUS = [
    '"--network=host"', "'--privileged'", "-p0.0.0.0:16379:6379", "--pid=host --ipc=host",
    r"\x2d\x2dprivileged", r"--\u0070rivileged", r"--\160rivileged", "'--pid' host",
    '--"net"work=ho"st"', "-v\\s/:/host", '"unterminated word', "trailing\\", "'' --privileged",
    'a "" b', "--label=a=\"b c\"", "\\u00e9t\\U0001F600", "'a'b\"c\"", "q\\\"x \"y\\\"z\"",
    "\\t\\n", "--tz=local --init", "x\\qy", "--foo\\ bar",
]


@pytest.mark.podman
@needs_quadlet
def test_split_matches_the_real_generator(tmp_path):
    """Each value, rendered as PodmanArgs, through ``quadlet -dryrun``: the words
    after -d (read back from ExecStart) are split()'s, or none where it raises."""
    for index, value in enumerate(SPLIT_CORPUS):
        text = "[Container]\nImage=docker.io/library/x\nPodmanArgs=%s\n" % value
        (tmp_path / ("t%d.container" % index)).write_text(text)
    env = {"QUADLET_UNIT_DIRS": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    out = subprocess.run([QUADLET, "-dryrun"], env=env, capture_output=True, text=True,
                         timeout=60, check=False).stdout
    for index, value in enumerate(SPLIT_CORPUS):
        service = out.split("---t%d.service---" % index, 1)[1].split("\n---", 1)[0]
        line = [ln for ln in service.splitlines() if ln.startswith("ExecStart=")][0]
        argv = quadlet_args.split(line[len("ExecStart="):])
        passed = argv[argv.index("-d") + 1:-1]
        try:
            expected = quadlet_args.split(value)
        except quadlet_args.SplitError:
            expected = []
        assert passed == expected, (value, line)


# -- quadlet_options --------------------------------------------------------------

@pytest.mark.parametrize("args", [
    '"--network=host"', "'--privileged'", "-p0.0.0.0:16379:6379", "-v /:/host",
    "--pid=host --ipc=host --userns=host", r"\x2d\x2dprivileged", "--cap\\x2dadd=ALL",
    "'--pid' host", "--pid host", "--security-opt seccomp=unconfined", "--device=/dev/sda",
    "--mount=type=bind,source=/,target=/host", "--pids-limit=1 --privileged",
    "--pids-limit", "--pids-limit=1; touch /x", "--init=yes", "--",
    "-- /bin/sh", "docker.io/evil/image", "-itv/:/h", "--log-opt=path=/etc/cron.d/x",
    "--oom-score-adj=-1000", "--tmpfs=/x:exec,suid", "--volumes-from=other",
    "--env-host", "--env-file=/etc/shadow", "--hooks-dir=/tmp", "--runtime=/tmp/x",
    "--group-add=keep-groups", "x\\qy --privileged", "--label='a b'",
])
def test_podman_args_off_the_allow_list_are_refused(inventory, args):
    core(inventory)["quadlet_options"] = {"Container": {"PodmanArgs": args}}
    refused(inventory, "quadlet_options.Container.PodmanArgs")


def test_a_flag_and_its_value_split_over_two_values_are_judged_together(inventory):
    core(inventory)["quadlet_options"] = {"Container": {"PodmanArgs": ["--pids-limit", "512"]}}
    assert "PodmanArgs=512" in unit_of(inventory)
    core(inventory)["quadlet_options"] = {"Container": {"PodmanArgs": ["--tz", "--privileged"]}}
    refused(inventory, "quadlet_options.Container.PodmanArgs")


@pytest.mark.parametrize("args", ["--pids-limit=512", "--pids-limit 512", "'--pids-limit=512'",
                                  "--ulimit nofile=4096:4096 --init", "--tz=Europe/Berlin",
                                  "--log-opt max-size=10m", "--oom-score-adj=500"])
def test_podman_args_on_the_allow_list_pass(inventory, args):
    core(inventory)["quadlet_options"] = {"Container": {"PodmanArgs": args}}
    assert "PodmanArgs=%s" % args in unit_of(inventory)


@pytest.mark.parametrize("section,key,value", [
    ("Container", "Mount", "type=bind,source=/,target=/host"),
    ("Container", "Mount", "type=bind,source=/etc,destination=/e,rw=true"),
    ("Container", "SeccompProfile", "unconfined"),
    ("Container", "Unmask", "ALL"),
    ("Container", "GlobalArgs", "--runtime=/tmp/x"),
    ("Container", "SecurityLabelType", "spc_t"),
    ("Container", "Rootfs", "/"),
    ("Container", "IP", "172.20.0.5"),
    ("Container", "Pod", "other.pod"),
    ("Container", "Sysctl", "kernel.core_pattern=|/x"),
    ("Container", "ContainersConfModule", "/tmp/evil.conf"),
    ("Container", "ReloadCmd", "/bin/sh -c id"),
    ("Container", "Entrypoint", "/bin/sh"),
    ("Container", "LogOpt", "path=/etc/cron.d/x"),
    ("Container", "Tmpfs", "/x:exec"),
    ("Container", "GroupAdd", "keep-groups"),
    ("Container", "Ulimit", "nofile=1 --privileged"),
    ("Container", "Annotation", '"a=b" --privileged'),
    ("Container", "FooBar", "1"),
    ("Service", "ExecStartPre", "/bin/sh -c id"),
    ("Service", "ExecStartPost", "/bin/true"),
    ("Service", "ExecStop", "/bin/true"),
    ("Service", "ExecStopPost", "/bin/true"),
    ("Service", "ExecReload", "/bin/true"),
    ("Service", "ExecCondition", "/bin/true"),
    ("Service", "Environment", "CONTAINERS_CONF=/tmp/x"),
    ("Service", "User", "nobody"),
    ("Service", "KillMode", "none"),
    ("Service", "OOMScoreAdjust", "-1000"),
    ("Service", "LimitNOFILE", "65536 --privileged"),
    ("Unit", "OnFailure", "reboot.target"),
    ("Unit", "OnSuccess", "poweroff.target"),
    ("Unit", "OnFailureJobMode", "replace-irreversibly"),
    ("Unit", "Conflicts", "ai-system-firewall.service"),
    ("Unit", "Before", "ai-system-firewall.service"),
    ("Unit", "Wants", "reboot.target"),
    ("Unit", "Requires", "poweroff.target"),
    ("Unit", "After", "x.service y.service"),
    ("Unit", "FailureAction", "reboot"),
    ("Unit", "SuccessAction", "poweroff"),
    ("Unit", "JobTimeoutAction", "reboot"),
    ("Install", "WantedBy", "rescue.target"),
    ("Install", "Alias", "dbus.service"),
    ("Quadlet", "DefaultDependencies", "maybe"),
])
def test_quadlet_options_off_the_allow_list_are_refused(inventory, section, key, value):
    core(inventory)["quadlet_options"] = {section: {key: value}}
    refused(inventory, "quadlet_options.%s.%s" % (section, key))


@pytest.mark.parametrize("section,key,value", [
    ("Container", "Ulimit", "nproc=512"),
    ("Container", "PidsLimit", 512),
    ("Container", "Tmpfs", "/app/cache:size=64m,noexec"),
    ("Container", "LogOpt", "max-size=10m"),
    ("Container", "Timezone", "local"),
    ("Service", "TimeoutStopSec", "90s"),
    ("Service", "LimitNOFILE", "1024:65536"),
    ("Unit", "After", "mnt-models.mount"),
    ("Unit", "Requires", "mnt-my\\x2ddisk.mount"),
    ("Unit", "RequiresMountsFor", "/mnt/models"),
    ("Quadlet", "DefaultDependencies", False),
])
def test_allowed_quadlet_options_pass(inventory, section, key, value):
    core(inventory)["quadlet_options"] = {section: {key: value}}
    text = unit_of(inventory)
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    assert "%s=%s" % (key, shown) in text


@pytest.mark.podman
@needs_quadlet
def test_what_the_allow_list_passes_the_generator_accepts(tmp_path, inventory):
    core(inventory)["quadlet_options"] = {
        "Container": {"PodmanArgs": "'--pids-limit' 512 --init", "Tmpfs": "/app/cache:size=64m",
                      "LogOpt": "max-size=10m"},
        "Unit": {"After": "mnt-models.mount"},
    }
    files = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]
    service = generated_service(files, tmp_path, "ai-core.service")
    assert "--pids-limit 512 --init" in service and "--tmpfs /app/cache:size=64m" in service


# -- mounts and devices -----------------------------------------------------------

@pytest.mark.parametrize("volume", [
    "/etc/cron.d:/x", "/etc/sudoers.d:/x", "/root/.ssh:/x", "/usr/local/bin:/x",
    "/var/lib/ai-system:/x", "/etc/ai-system:/x", "/etc/ai-system/groups:/x:ro",
    "/etc/containers/systemd:/x", "/home/ai/.ssh:/x", "/home/ai:/x", "/var/spool/cron:/x",
    "/var/lib/containers/storage:/x:ro", "/run/podman:/x:ro", "/var/run/docker.sock:/x",
    "/proc/1:/x:ro", "/sys/kernel:/x:ro", "/dev:/x", "/boot/efi:/x:ro", "/etc/shadow:/x:ro",
    "/:/host", "/etc:/x:ro", "/srv:/x", "/opt/app:/x", "/var/log/journal:/x",
    "/srv/ai/data:/x:U", "/srv/ai/data:/x:rshared", "/srv/ai/data:/x:shared",
    "/srv/ai/data:/x:suid", "/srv/ai/data:/x:dev", "/srv/ai/data:/x:exec",
    "/srv/ai/data:/x:O", "/srv/ai/data:/x:idmap", "/etc/ssl/certs:/x:ro,Z",
    "/usr/share/models:/x:ro,z",
])
def test_hostile_mounts_are_refused(inventory, volume):
    core(inventory)["volumes"] = [volume]
    refused(inventory, "volumes")


@pytest.mark.parametrize("source", ["/etc/ai-system", "/root/.ssh", "/etc/ssh", "/run/podman",
                                    "/home/ai/.ssh", "/srv/backup/.gnupg", "/etc/ssl/private"])
def test_readonly_mounts_of_secrets_and_the_collections_own_are_refused(inventory, source):
    core(inventory)["readonly_mounts"] = ["%s:/x" % source]
    refused(inventory, "readonly_mounts")


def test_a_changed_config_dir_is_the_collections_own_too(inventory):
    inventory["mainpc"]["ai_config_dir"] = "/srv/ai-conf"
    core(inventory)["volumes"] = ["/srv/ai-conf/groups:/x"]
    refused(inventory, "volumes")


@pytest.mark.parametrize("volume,readonly", [
    ("/srv/ai-system/data:/app/data", False), ("/etc/ssl/certs:/certs", True),
    ("/usr/share/zoneinfo:/zi", True), ("/srv/ai/data:/x:nosuid,nodev,noexec", False),
    ("/var/lib/models:/m:ro", False), ("models:/m", False),
])
def test_ordinary_mounts_pass(inventory, volume, readonly):
    core(inventory)["readonly_mounts" if readonly else "volumes"] = [volume]
    assert build_plan(inventory)["errors"] == []


def test_selinux_labels_only_what_the_collection_creates(inventory):
    inventory["mainpc"]["ai_selinux"] = True
    core(inventory)["volumes"] = ["/srv/ai-system/data:/app/data"]
    core(inventory)["readonly_mounts"] = ["/etc/ssl/certs:/certs"]
    volumes = [ln for ln in unit_of(inventory).splitlines() if ln.startswith("Volume=")]
    assert "Volume=/srv/ai-system/data:/app/data:Z" in volumes
    assert "Volume=/etc/ssl/certs:/certs:ro" in volumes  # a system path: never relabelled
    assert any(v.startswith("Volume=/etc/ai-system/groups/core/endpoints.json:") and
               v.endswith(":ro,Z") for v in volumes)


@pytest.mark.parametrize("device", [
    "/dev/sda", "/dev/sda1", "/dev/nvme0n1", "/dev/mem", "/dev/kmem", "/dev/port", "/dev",
    "/dev/", "/dev/mapper/root", "/dev/disk/by-id/x", "/dev/char/1:1", "/dev/block/8:0",
    "/dev/cpu/0/msr", "/dev/loop0", "/dev/dm-0", "/dev/tty1", "/dev/kmsg", "/dev/vda",
    "/dev/ttyUSB0:/dev/ttyUSB0:rwm", "/dev/dri/renderD128:renderD128", "/dev/hidraw0:a:b:c",
])
def test_devices_the_plan_cannot_justify_are_refused(inventory, device):
    core(inventory)["devices"] = [device]
    refused(inventory, "devices")


@pytest.mark.parametrize("device", ["/dev/dri/renderD128", "/dev/ttyUSB0",
                                    "/dev/ttyACM0:/dev/ttyACM0:rw", "/dev/snd"])
def test_named_character_devices_pass(inventory, device):
    core(inventory)["devices"] = [device]
    assert "AddDevice=%s" % device in unit_of(inventory)


# -- host names -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["main/pc", "main\npc", "-x", "main pc", "a{b}", "x" * 64, ""])
def test_a_bad_host_name_is_a_located_problem_not_a_crash(inventory, name):
    inventory[name] = inventory.pop("pc2")
    result = build_plan(inventory)
    assert result["hosts"] == {}
    found = [p for p in result["problems"] if "inventory host name" in p["message"]]
    assert len(found) == 1 and found[0]["host"] == ascii(name) and found[0]["fix"]


def test_host_names_are_quoted_in_prometheus_yml(inventory):
    inventory["pc2.lan"] = inventory.pop("pc2")
    for host in inventory.values():
        host["ai_monitoring"] = {"prometheus": {"host": "mainpc", "image": IMAGE}}
    config = build_plan(inventory)["hosts"]["mainpc"]["config"]["monitoring/prometheus.yml"]
    assert '{host: "pc2.lan"}' in config
    static = yaml.safe_load(config)["scrape_configs"][0]["static_configs"]
    assert [s["labels"] for s in static] == [{"host": "mainpc"}, {"host": "pc2.lan"}]


# -- boot: no group without its firewall ------------------------------------------

def test_every_container_unit_requires_the_firewall_unit(inventory):
    for host in inventory.values():
        host["ai_monitoring"] = {"prometheus": {"host": "mainpc", "image": IMAGE}}
    plan = build_plan(inventory)["hosts"]
    for host in plan.values():
        for name, text in host["quadlet"].items():
            if name.endswith(".container"):
                assert "Requires=ai-system-firewall.service" in text.splitlines(), name
                assert "After=ai-system-firewall.service" in text.splitlines(), name


def test_the_requirement_goes_only_where_the_firewall_is_left_to_the_user(inventory):
    inventory["mainpc"]["ai_firewall_required"] = False
    assert "ai-system-firewall.service" not in unit_of(inventory)
    inventory["mainpc"]["ai_firewall_required"] = "no"
    result = build_plan(inventory)
    assert [p["field"] for p in result["problems"]] == ["ai_firewall_required"]


@pytest.mark.podman
@needs_quadlet
def test_the_generator_keeps_the_firewall_requirement(tmp_path, inventory):
    files = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]
    service = generated_service(files, tmp_path, "ai-models.service")
    assert "Requires=ai-system-firewall.service" in service
    assert "After=ai-system-firewall.service" in service


# -- Prometheus -------------------------------------------------------------------

def monitored(inventory, **prometheus):
    section = {"prometheus": dict({"host": "mainpc", "image": IMAGE}, **prometheus)}
    for host in inventory.values():
        host["ai_monitoring"] = section
    return section


def test_prometheus_listens_on_loopback_and_is_opened_to_no_one_by_default(inventory):
    monitored(inventory)
    main = build_plan(inventory)["hosts"]["mainpc"]
    unit = main["quadlet"]["ai-prometheus.container"]
    assert "--web.listen-address=127.0.0.1:9090" in unit and "web.config" not in unit
    assert [o for o in main["firewall"] if o["port"] == 9090] == []
    assert main["monitoring"]["prometheus_url"] == "http://127.0.0.1:9090"
    for line in ("NoNewPrivileges=true", "DropCapability=ALL", "ReadOnly=true",
                 "Requires=ai-system-firewall.service"):
        assert line in unit.splitlines()


def test_viewers_get_tls_basic_auth_and_a_firewall_opening_each(inventory):
    monitored(inventory, viewers=["192.168.1.50", "192.168.1.51"],
              web={"tls_cert": "/etc/ai-tls/cert.pem", "tls_key": "/etc/ai-tls/key.pem",
                   "users": {"grafana": BCRYPT}})
    main = build_plan(inventory)["hosts"]["mainpc"]
    unit = main["quadlet"]["ai-prometheus.container"]
    assert "--web.listen-address=10.0.0.16:9090" in unit
    assert "--web.config.file=/etc/prometheus/ai-system/web.yml" in unit
    assert "Volume=/etc/ai-tls/key.pem:/etc/prometheus/tls/key.pem:ro" in unit.splitlines()
    web = yaml.safe_load(main["config"]["monitoring/web.yml"])
    assert web == {"tls_server_config": {"cert_file": "/etc/prometheus/tls/cert.pem",
                                         "key_file": "/etc/prometheus/tls/key.pem"},
                   "basic_auth_users": {"grafana": BCRYPT}}
    opened = sorted(o["source"] for o in main["firewall"] if o["port"] == 9090)
    assert opened == ["10.0.0.16", "192.168.1.50", "192.168.1.51"]  # the host itself (verify)
    assert main["monitoring"]["prometheus_url"] == "https://10.0.0.16:9090"
    unit_plan = [u for u in main["units"] if u["group"] == "prometheus"][0]
    assert "monitoring/web.yml" in unit_plan["config_files"]


@pytest.mark.parametrize("prometheus,field", [
    ({"viewers": ["192.168.1.50"]}, "ai_monitoring.prometheus.web"),
    ({"viewers": ["0.0.0.0"]}, "ai_monitoring.prometheus.viewers"),
    ({"viewers": ["192.168.1.0/24"]}, "ai_monitoring.prometheus.viewers"),
    ({"viewers": "192.168.1.50"}, "ai_monitoring.prometheus.viewers"),
    ({"web": {"users": {"a": BCRYPT}}}, "ai_monitoring.prometheus.web"),
    ({"viewers": ["192.168.1.50"], "web": {"tls_cert": "/c.pem", "tls_key": "/k.pem",
                                           "users": {"a": "plain-password"}}},
     "ai_monitoring.prometheus.web.users.a"),
    ({"viewers": ["192.168.1.50"], "web": {"tls_cert": "c.pem", "tls_key": "/k.pem",
                                           "users": {"a": BCRYPT}}},
     "ai_monitoring.prometheus.web.tls_cert"),
    ({"viewers": ["192.168.1.50"], "web": {"tls_cert": "/c.pem", "tls_key": "/k.pem",
                                           "users": {}}},
     "ai_monitoring.prometheus.web.users"),
])
def test_an_exposure_without_its_safeguards_is_refused(inventory, prometheus, field):
    monitored(inventory, **prometheus)
    result = build_plan(inventory)
    assert result["hosts"] == {}
    assert field in [p["field"] for p in result["problems"]], result["errors"]


# -- the network as it is ---------------------------------------------------------

def test_the_network_is_recreated_only_with_the_plans_containers_on_it():
    ours = [{"name": "core", "unit": "ai-core.service", "managed": "yes"}]
    assert network_run.decide("ai-system", "172.20.0.0/16", None, [], [])[0] == "ok"
    assert network_run.decide("ai-system", "172.20.0.0/16", ["172.20.0.0/16"], ours,
                              ["ai-core.service"])[0] == "ok"
    action, stop, message = network_run.decide("ai-system", "172.20.0.0/16", ["10.89.7.0/24"],
                                               ours, ["ai-core.service"])
    assert action == "recreate" and stop == ["ai-core.service"] and "10.89.7.0/24" in message
    foreign = ours + [{"name": "web", "unit": "", "managed": ""}]
    action, stop, message = network_run.decide("ai-system", "172.20.0.0/16", ["10.89.7.0/24"],
                                               foreign, ["ai-core.service"])
    assert action == "refuse" and stop == [] and "web" in message
    assert "ai_network_subnet" in message
    two = network_run.decide("ai-system", "172.20.0.0/16", ["172.20.0.0/16", "172.30.0.0/16"],
                             [], [])
    assert two[0] == "recreate"


@pytest.mark.podman
def test_the_real_subnet_is_read_from_podman():
    name = "ai-hardening-test-%d" % os.getpid()
    subprocess.run(["podman", "network", "create", "--subnet", "10.213.7.0/24", name],
                   check=True, capture_output=True, timeout=60)
    try:
        out = subprocess.run(["podman", "network", "inspect", name], check=True,
                             capture_output=True, text=True, timeout=60).stdout
        assert network_run.subnets_of(out) == ["10.213.7.0/24"]
        ps = subprocess.run(["podman", "ps", "-a", "--format", "json", "--filter",
                             "network=%s" % name], check=True, capture_output=True, text=True,
                            timeout=60).stdout
        assert network_run.attached(ps) == []
    finally:
        subprocess.run(["podman", "network", "rm", name], capture_output=True, timeout=60, check=False)


# -- further classes: labels the runtime acts on, capabilities, targets, builds, subnets --

@pytest.mark.parametrize("options", [
    {"Container": {"Annotation": "run.oci.keep_original_groups=1"}},
    {"Container": {"Annotation": "cdi.k8s.io/gpu=nvidia.com/gpu=all"}},
    {"Container": {"Annotation": "io.podman.annotations.label=disable"}},
    {"Container": {"Label": "io.ai-system.group=other"}},
    {"Container": {"Label": "PODMAN_SYSTEMD_UNIT=ai-other.service"}},
    {"Container": {"PodmanArgs": "--annotation run.oci.seccomp_fail_unknown_syscall=0"}},
    {"Container": {"Tmpfs": "/proc/sys"}},
    {"Container": {"Tmpfs": "/dev/shm:exec"}},
])
def test_keys_podman_the_runtime_or_the_plan_act_on_are_refused(inventory, options):
    core(inventory)["quadlet_options"] = options
    section, keys = next(iter(options.items()))
    refused(inventory, "quadlet_options.%s.%s" % (section, next(iter(keys))))


@pytest.mark.parametrize("caps", [["SYS_ADMIN"], ["ALL"], ["cap_sys_module"], ["SYS_PTRACE"],
                                  ["DAC_READ_SEARCH"], ["NET_ADMIN"], ["BPF"], ["SYS_RAWIO"]])
def test_capabilities_that_open_the_host_are_refused(inventory, caps):
    core(inventory)["security"] = {"add_capabilities": caps}
    refused(inventory, "security.add_capabilities")


def test_ordinary_capabilities_pass(inventory):
    core(inventory)["security"] = {"add_capabilities": ["setuid", "SETGID", "CHOWN"]}
    text = unit_of(inventory)
    assert "AddCapability=SETUID" in text and "AddCapability=CHOWN" in text


@pytest.mark.parametrize("volume", ["/srv/ai/data:/", "/srv/ai/data:/proc/sys", "/srv/ai/x:/sys",
                                    "/srv/ai/x:/dev/shm"])
def test_mounts_over_the_containers_root_or_kernel_interfaces_are_refused(inventory, volume):
    core(inventory)["volumes"] = [volume]
    refused(inventory, "volumes")


@pytest.mark.parametrize("context", ["/", "/etc", "/root", "/etc/ai-system", "/home"])
def test_a_build_context_of_the_systems_files_is_refused(inventory, context):
    core(inventory)["build"] = {"context": context}
    refused(inventory, "build.context")


@pytest.mark.parametrize("subnet", ["0.0.0.0/0", "8.8.8.0/24", "127.0.0.0/8", "169.254.0.0/16",
                                    "224.0.0.0/8", "10.0.0.0/8", "172.20.0.0/30"])
def test_container_subnets_that_would_break_routing_are_refused(inventory, subnet):
    inventory["mainpc"]["ai_network_subnet"] = subnet
    result = build_plan(inventory)
    found = [p for p in result["problems"] if p["field"] == "ai_network_subnet"]
    assert result["hosts"] == {} and found and found[0]["host"] == "mainpc", result["errors"]


def test_a_subnet_holding_another_hosts_lan_address_is_refused(inventory):
    inventory["pc2"]["ai_network_subnet"] = "10.0.0.0/28"  # mainpc is 10.0.0.16, pc2 .17
    inventory["mainpc"]["ai_lan_address"] = "10.0.0.5"
    result = build_plan(inventory)
    found = [p for p in result["problems"] if p["field"] == "ai_network_subnet"]
    assert [(p["host"], "10.0.0.5" in p["message"]) for p in found] == [("pc2", True)]


@pytest.mark.podman
@needs_quadlet
def test_the_generator_accepts_prometheus_opened_to_viewers(tmp_path, inventory):
    monitored(inventory, viewers=["192.168.1.50"],
              web={"tls_cert": "/etc/ai-tls/cert.pem", "tls_key": "/etc/ai-tls/key.pem",
                   "users": {"grafana": BCRYPT}})
    files = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]
    service = generated_service(files, tmp_path, "ai-prometheus.service")
    assert "--web.config.file=/etc/prometheus/ai-system/web.yml" in service
    assert "-v /etc/ai-tls/key.pem:/etc/prometheus/tls/key.pem:ro" in service
    assert "--read-only" in service and "--cap-drop all" in service
    assert "--security-opt=no-new-privileges" in service or "no-new-privileges" in service
