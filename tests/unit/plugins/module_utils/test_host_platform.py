# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_platform's parsers and checks, on the texts hosts really have.

The Linux texts (``ip -j addr``, /proc/net/tcp, /proc/mounts of a cgroup v1
host) were read on the machine that runs these tests; the WSL and Ubuntu texts
are in the formats WSL and Ubuntu write (tests/fixtures/hosts/README.md).
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host import host_parsers
from ansible_collections.ai_system.containers.plugins.module_utils.host import host_platform as hp

HOSTS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "hosts")


def fixture(host, path):
    with open(os.path.join(HOSTS, host, path)) as handle:
        return handle.read()


# ---------------------------------------------------------------------------
# Texts read on a Linux machine (the test machine)
# ---------------------------------------------------------------------------

IP_J_ADDR = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue",'
    '"operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00",'
    '"broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host",'
    '"label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1",'
    '"prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},'
    '{"ifindex":2,"ifname":"ifb0","flags":["BROADCAST","NOARP"],"mtu":1500,"qdisc":"noop","operstate":"DOWN",'
    '"group":"default","txqlen":32,"link_type":"ether","address":"ce:7a:83:2c:e8:92","broadcast":"ff:ff:ff:ff:ff:ff",'
    '"addr_info":[]},{"ifindex":4,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,'
    '"qdisc":"pfifo_fast","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether",'
    '"address":"02:fc:00:00:00:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"192.0.2.2",'
    '"prefixlen":24,"broadcast":"192.0.2.255","scope":"global","label":"eth0","valid_life_time":4294967295,'
    '"preferred_life_time":4294967295},{"family":"inet6","local":"fd00::2","prefixlen":64,"scope":"global",'
    '"nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6",'
    '"local":"fe80::fc:ff:fe00:1","prefixlen":64,"scope":"link","valid_life_time":4294967295,'
    '"preferred_life_time":4294967295}]},{"ifindex":23,"ifname":"podman1","flags":["BROADCAST","MULTICAST","UP",'
    '"LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether",'
    '"address":"22:31:71:79:a5:84","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet",'
    '"local":"10.89.100.1","prefixlen":24,"broadcast":"10.89.100.255","scope":"global","label":"podman1",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]'
)

# 127.0.0.1:7120 and 10.89.100.1:53 listening, one established connection, one TIME_WAIT.
PROC_NET_TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    "                                                     \n"
    "   0: 0100007F:1BD0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 267242 1 "
    "00000000739e641b 100 0 0 10 0                    \n"
    "   2: 0164590A:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 261002 1 "
    "000000002ef1c681 100 0 0 10 0                    \n"
    "   3: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 265 1 "
    "00000000d98d753d 100 0 0 10 0                       \n"
    "   8: 0100007F:DE34 0100007F:BBEF 01 00000000:00000000 00:00000000 00000000     0        0 267245 2 "
    "0000000061ecf492 20 0 0 10 -1                    \n"
    "   6: 0100007F:DE0E 0100007F:824B 06 00000000:00000000 03:00000EC9 00000000     0        0 0 3 "
    "00000000f6a41f56                                      \n"
)
# [::]:7150 listening.
PROC_NET_TCP6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:1BEE 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 267243 1 000000008a50d023 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000F11A8C0:1BD1 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 267250 1 000000008a50d024 100 0 0 10 0\n"
)

MOUNTS_HYBRID = """tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime,nsdelegate 0 0
"""
MOUNTS_V1 = """sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0
"""

DEBIAN_12 = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
DEBIAN_13 = DEBIAN_12.replace("12 (bookworm)", "13 (trixie)").replace('"12"', '"13"').replace("bookworm", "trixie")
ROCKY_9 = """NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
"""


# ---------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------

def test_os_release_of_ubuntu_jammy_and_debian():
    osr = host_parsers.parse_os_release(fixture("pc2-jammy", "etc/os-release"))
    assert osr["ID"] == "ubuntu" and osr["VERSION_ID"] == "22.04" and osr["VERSION_CODENAME"] == "jammy"
    assert osr["PRETTY_NAME"] == "Ubuntu 22.04.5 LTS"
    assert osr["VERSION"] == "22.04.5 LTS (Jammy Jellyfish)"
    assert host_parsers.parse_os_release(DEBIAN_12)["VERSION_ID"] == "12"
    assert host_parsers.parse_os_release(ROCKY_9)["ID_LIKE"] == "rhel centos fedora"


def test_version_tuple():
    assert host_parsers.version_tuple("22.04") == (22, 4)
    assert host_parsers.version_tuple("4.3.1+ds1-8+deb12u1") == (4, 3, 1)
    assert host_parsers.version_tuple("") == () and host_parsers.version_tuple(None) == ()


@pytest.mark.parametrize("text, wsl", [
    ("5.15.167.4-microsoft-standard-WSL2\n", 2),
    ("6.6.36.6-microsoft-standard-WSL2", 2),
    ("5.10.102.1-microsoft-standard-WSL2", 2),
    ("4.4.0-19041-Microsoft", 1),
    ("5.15.0-126-generic", None),
    ("6.18.44-fc-v1300", None),
])
def test_kernel_release_tells_wsl_2_from_wsl_1_and_linux(text, wsl):
    kernel = host_parsers.parse_kernel_release(text)
    assert kernel == {"release": text.strip(), "wsl": wsl}


def test_detect_virt_and_pid1():
    assert host_parsers.parse_detect_virt("wsl\n") == "wsl"
    assert host_parsers.parse_detect_virt("none\n") == "none"
    assert host_parsers.parse_detect_virt("") == "none" and host_parsers.parse_detect_virt(None) == "none"
    assert host_parsers.parse_pid1("systemd\n") == "systemd"
    assert host_parsers.parse_pid1("init\n") == "init"  # WSL's own init, without systemd
    assert host_parsers.parse_pid1("") is None


def test_wsl_conf():
    conf = host_parsers.parse_ini(fixture("mainpc-wsl-jammy", "etc/wsl.conf"))
    assert conf["automount"]["options"] == "metadata,umask=22,fmask=11"
    assert conf["network"]["generateresolvconf"] == "true"
    assert host_parsers.wsl_systemd_enabled(conf) is None
    assert host_parsers.wsl_systemd_enabled(host_parsers.parse_ini(fixture("mainpc-wsl-noble", "etc/wsl.conf"))) is True
    assert host_parsers.wsl_systemd_enabled(host_parsers.parse_ini("[boot]\nsystemd = false  # for now\n")) is False
    assert host_parsers.wsl_systemd_enabled(host_parsers.parse_ini("# [boot]\n; systemd=true\n[Boot]\nSystemd=True\n")) is True


def test_ip_j_addr_of_a_linux_host():
    addresses = host_parsers.parse_ip_addr(IP_J_ADDR)
    assert [(a["ifname"], a["local"], a["prefixlen"]) for a in addresses] == [
        ("lo", "127.0.0.1", 8), ("lo", "::1", 128), ("eth0", "192.0.2.2", 24), ("eth0", "fd00::2", 64),
        ("eth0", "fe80::fc:ff:fe00:1", 64), ("podman1", "10.89.100.1", 24)]
    assert addresses[2]["family"] == "inet"


def test_ip_j_addr_of_wsl_in_nat_mode():
    addresses = host_parsers.parse_ip_addr(fixture("mainpc-wsl-jammy", "commands/ip"))
    assert [a["local"] for a in addresses if a["ifname"] == "eth0"] == ["172.26.214.93", "fe80::215:5dff:fec8:4a1e"]


def test_proc_net_tcp_listeners_only():
    listeners = host_parsers.parse_proc_net_tcp(PROC_NET_TCP)
    assert listeners == [
        {"address": "127.0.0.1", "port": 7120, "inode": 267242},
        {"address": "10.89.100.1", "port": 53, "inode": 261002},
        {"address": "0.0.0.0", "port": 2024, "inode": 265},
    ]


def test_proc_net_tcp6_listeners():
    listeners = host_parsers.parse_proc_net_tcp(PROC_NET_TCP6)
    assert listeners == [
        {"address": "::", "port": 7150, "inode": 267243},
        {"address": "::ffff:192.168.17.15", "port": 7121, "inode": 267250},
    ]


def test_cgroup_versions():
    assert host_parsers.parse_cgroup_mounts(fixture("pc2-noble", "proc/mounts")) == "v2"
    assert host_parsers.parse_cgroup_mounts(MOUNTS_HYBRID) == "hybrid"
    assert host_parsers.parse_cgroup_mounts(fixture("mainpc-wsl-jammy", "proc/mounts")) == "hybrid"
    assert host_parsers.parse_cgroup_mounts(MOUNTS_V1) == "v1"
    assert host_parsers.parse_cgroup_mounts("proc /proc proc rw 0 0\n") is None


def test_graphroot_from_storage_conf():
    conf = ('[storage]\ndriver = "overlay"\nrunroot = "/run/containers/storage"\n'
            'graphroot = "/srv/containers/storage"  # big disk\n[storage.options]\n'
            'graphroot = "/not/this"\n')
    assert host_parsers.parse_graphroot(conf) == "/srv/containers/storage"
    assert host_parsers.parse_graphroot('[storage]\n# graphroot = "/commented"\ndriver = "overlay"\n') == host_parsers.DEFAULT_GRAPHROOT
    assert host_parsers.parse_graphroot(None) == "/var/lib/containers/storage"


def test_podman_version_and_modules():
    assert host_parsers.parse_podman_version("podman version 5.4.2\n") == "5.4.2"
    assert host_parsers.parse_podman_version(fixture("pc2-jammy", "commands/podman")) == "3.4.4"
    assert host_parsers.parse_podman_version("") is None
    assert host_parsers.parse_proc_modules(fixture("pc2-jammy", "proc/modules"))[:4] == [
        "nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia"]


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def test_every_item_has_the_same_shape():
    it = hp.check_cgroup("v2")
    assert set(it) == {"name", "title", "status", "evidence", "fix", "reason"}
    with pytest.raises(ValueError):
        hp.item("x", "X", "passed", "no such status")


def test_distribution_wsl_1_is_not_ready():
    osr = host_parsers.parse_os_release(fixture("pc2-jammy", "etc/os-release"))
    it = hp.check_distribution(osr, host_parsers.parse_kernel_release("4.4.0-19041-Microsoft"), "wsl")
    assert it["status"] == hp.NOT_READY and "wsl --set-version <distribution> 2" in it["fix"]
    it = hp.check_distribution(osr, host_parsers.parse_kernel_release("5.15.167.4-microsoft-standard-WSL2"), "wsl")
    assert it["status"] == hp.READY and it["evidence"].endswith("(WSL 2)")


def test_podman_on_ubuntu_jammy_native_gives_the_release_upgrade():
    osr = host_parsers.parse_os_release(fixture("pc2-jammy", "etc/os-release"))
    it = hp.check_podman(osr, "3.4.4", None, None)
    assert it["status"] == hp.NOT_READY
    assert "Podman 3.4.4 installed" in it["evidence"]
    assert "sudo do-release-upgrade" in it["fix"] and "Ubuntu 24.04" in it["fix"]
    assert "wsl --install" not in it["fix"]
    assert "podman_repository" in it["fix"]


def test_podman_on_ubuntu_jammy_under_wsl_gives_a_new_distribution():
    osr = host_parsers.parse_os_release(fixture("mainpc-wsl-jammy", "etc/os-release"))
    it = hp.check_podman(osr, None, None, 2)
    assert it["status"] == hp.NOT_READY and "not installed" in it["evidence"]
    assert "`wsl --install -d Ubuntu-24.04`" in it["fix"] and "do-release-upgrade" in it["fix"]


def test_podman_repository_opt_in_on_jammy_is_a_warning():
    osr = host_parsers.parse_os_release(fixture("pc2-jammy", "etc/os-release"))
    it = hp.check_podman(osr, "3.4.4", None, None, "https://example.org/podman/jammy")
    assert it["status"] == hp.WARNING
    assert "https://example.org/podman/jammy" in it["evidence"] and "ai_preflight_accept_warnings" in it["fix"]


def test_podman_on_debian_12_gives_the_upgrade_to_13():
    it = hp.check_podman(host_parsers.parse_os_release(DEBIAN_12), None, None, None)
    assert it["status"] == hp.NOT_READY
    assert "Debian 12 offers Podman 4.3 at most" in it["evidence"]
    assert "Upgrade to Debian 13 (trixie)" in it["fix"] and "apt-get full-upgrade" in it["fix"]


def test_podman_ready_where_offered_or_installed():
    assert hp.check_podman(host_parsers.parse_os_release(DEBIAN_13), None, None, None)["status"] == hp.READY
    assert hp.check_podman(host_parsers.parse_os_release(ROCKY_9), None, None, None)["status"] == hp.READY
    noble = host_parsers.parse_os_release(fixture("pc2-noble", "etc/os-release"))
    it = hp.check_podman(noble, "4.9.3", "/usr/libexec/podman/quadlet", None)
    assert it["status"] == hp.READY and "Quadlet at /usr/libexec/podman/quadlet" in it["evidence"]
    # Debian 12 with Podman 5 from trixie, as on the test machine: ready.
    it = hp.check_podman(host_parsers.parse_os_release(DEBIAN_12), "5.4.2", "/usr/libexec/podman/quadlet", None)
    assert it["status"] == hp.READY
    unknown = hp.check_podman({"ID": "gentoo", "PRETTY_NAME": "Gentoo Linux"}, None, None, None)
    assert unknown["status"] == hp.NOT_READY and "Debian 13 (trixie)" in unknown["fix"]


def test_systemd_under_wsl_names_the_wsl_conf_lines():
    conf = host_parsers.parse_ini(fixture("mainpc-wsl-jammy", "etc/wsl.conf"))
    it = hp.check_systemd("init", 2, conf, "wsl")
    assert it["status"] == hp.NOT_READY
    assert it["evidence"] == "PID 1 is init; /etc/wsl.conf has no [boot] systemd setting"
    assert "[boot]\nsystemd=true" in it["fix"] and "wsl --shutdown" in it["fix"]
    it = hp.check_systemd("init", 2, None, "wsl")
    assert "/etc/wsl.conf does not exist" in it["evidence"]
    it = hp.check_systemd("init", 2, {"boot": {"systemd": "true"}}, "wsl")
    assert "has not restarted" in it["fix"]
    assert hp.check_systemd("systemd", 2, {"boot": {"systemd": "true"}}, "wsl")["status"] == hp.READY


def test_systemd_in_a_container_and_on_a_machine():
    it = hp.check_systemd("sleep", None, None, "podman")
    assert it["evidence"] == "PID 1 is sleep (a podman container)" and "--systemd=always" in it["fix"]
    it = hp.check_systemd("bash", None, None, "none")
    assert it["status"] == hp.NOT_READY and "systemd-sysv" in it["fix"]


def test_cgroup_items():
    assert hp.check_cgroup("v2")["status"] == hp.READY
    assert hp.check_cgroup("v1")["status"] == hp.READY
    assert hp.check_cgroup(None)["status"] == hp.NOT_READY


def test_lan_address_on_a_linux_host():
    addresses = host_parsers.parse_ip_addr(IP_J_ADDR)
    assert hp.check_lan_address("192.0.2.2", addresses, None) == {
        "name": "lan_address", "title": "ai_lan_address is this host's", "status": "ready",
        "evidence": "192.0.2.2 is on eth0", "fix": None, "reason": None}
    it = hp.check_lan_address("192.168.100.16", addresses, None)
    assert it["status"] == hp.NOT_READY
    assert it["evidence"] == ("192.168.100.16 is not an address of this host; its addresses: 192.0.2.2/24 (eth0), "
                              "fd00::2/64 (eth0), fe80::fc:ff:fe00:1/64 (eth0)")
    assert "Set ai_lan_address" in it["fix"] and ".wslconfig" not in it["fix"]


def test_lan_address_under_wsl_nat_asks_for_mirrored_networking():
    addresses = host_parsers.parse_ip_addr(fixture("mainpc-wsl-jammy", "commands/ip"))
    it = hp.check_lan_address("192.168.100.16", addresses, 2)
    assert it["status"] == hp.NOT_READY
    assert "172.26.214.93/20 (eth0)" in it["evidence"] and "NAT" in it["evidence"]
    assert "[wsl2]\nnetworkingMode=mirrored" in it["fix"]
    assert "Windows 11 22H2 or later, WSL 2.0.0 or later" in it["fix"] and "Hyper-V firewall" in it["fix"]
    assert "%UserProfile%\\.wslconfig" in it["fix"]
    mirrored = host_parsers.parse_ip_addr(fixture("mainpc-wsl-noble", "commands/ip"))
    assert hp.check_lan_address("192.168.100.16", mirrored, 2)["status"] == hp.READY


PUBLISHED = [{"group": "core-services", "agent": "SystemDigitalTwin", "port": 7120, "address": "127.0.0.1"},
             {"group": "core-services", "agent": "RequestCoordinator", "port": 7150, "address": "127.0.0.1"}]


def test_planned_ports_with_monitoring():
    ports = hp.planned_ports(PUBLISHED, {"exporter_port": 9464, "prometheus": True, "prometheus_port": 9090})
    assert [(p["port"], p["what"]) for p in ports] == [
        (7120, "core-services/SystemDigitalTwin"), (7150, "core-services/RequestCoordinator"),
        (9090, "prometheus"), (9464, "exporter")]
    assert [p["port"] for p in hp.planned_ports(PUBLISHED, {"exporter_port": 9464, "prometheus": False})] == [
        7120, 7150, 9464]


def test_ports_taken_by_another_process():
    listeners = host_parsers.parse_proc_net_tcp(PROC_NET_TCP) + host_parsers.parse_proc_net_tcp(PROC_NET_TCP6)
    ports = hp.planned_ports(PUBLISHED, None)
    it = hp.check_ports(ports, listeners, "127.0.0.1", {267242: {"pid": 4242, "comm": "python3", "ours": False}})
    assert it["status"] == hp.NOT_READY
    assert it["evidence"] == ("7120 (core-services/SystemDigitalTwin) is in use by python3 (pid 4242) on 127.0.0.1; "
                              "7150 (core-services/RequestCoordinator) is in use by another process on ::")
    assert "ss -ltnp" in it["fix"]


def test_ports_of_the_stack_itself_and_other_addresses_are_not_in_the_way():
    listeners = host_parsers.parse_proc_net_tcp(PROC_NET_TCP)
    ports = hp.planned_ports(PUBLISHED[:1], None)
    # 7120 listens on 127.0.0.1 only: a LAN address of 192.0.2.2 is free.
    assert hp.check_ports(ports, listeners, "192.0.2.2")["status"] == hp.READY
    it = hp.check_ports(ports, listeners, "127.0.0.1", {267242: {"pid": 1, "comm": "conmon", "ours": True}})
    assert it["status"] == hp.READY and "already served by the stack's own units" in it["evidence"]
    assert hp.check_ports([], listeners, "127.0.0.1")["evidence"] == "the plan publishes no port on this host"


def test_disk_and_clock():
    it = hp.check_disk(host_parsers.DEFAULT_GRAPHROOT, "/var/lib", 5 * hp.GIB, 20)
    assert it["status"] == hp.NOT_READY and it["evidence"].startswith("5.0 GiB free at /var/lib")
    assert "15.0 GiB" in it["fix"] and "ai_preflight_min_free_gib" in it["fix"]
    assert hp.check_disk(host_parsers.DEFAULT_GRAPHROOT, "/var/lib", 25 * hp.GIB, 20)["status"] == hp.READY
    assert hp.check_clock(1000.0, 999.5, 30)["status"] == hp.READY
    late = hp.check_clock(1000.0, 900.0, 30)
    assert late["status"] == hp.WARNING and "+100.0 s" in late["evidence"] and "timedatectl" in late["fix"]
    assert hp.check_clock(1000.0, None, 30)["status"] == hp.SKIPPED


def nvml(host):
    data = json.loads(fixture(host, "nvml.json"))
    return {"available": True, "driver_version": data["driver_version"], "cuda_driver_version": "12.7",
            "gpus": [dict(g, index=0) for g in data["gpus"]]}


RTX_4090 = {"model": "NVIDIA GeForce RTX 4090", "memory_mib": 24564, "required": True}


def test_gpu_ready_under_wsl_from_the_windows_driver():
    it = hp.check_gpu(RTX_4090, nvml("mainpc-wsl-noble"), 2, False, [], True)
    assert it["status"] == hp.READY
    assert it["evidence"] == "driver 566.36 (CUDA 12.7) from Windows; NVIDIA GeForce RTX 4090 24564 MiB"


def test_gpu_linux_driver_inside_wsl_is_an_error():
    it = hp.check_gpu(RTX_4090, nvml("mainpc-wsl-noble"), 2, False,
                      ["the nvidia kernel module is loaded (/proc/modules)", "/proc/driver/nvidia exists"], True)
    assert it["status"] == hp.NOT_READY
    assert "apt-get purge" in it["fix"] and "Windows only" in it["fix"]


def test_gpu_without_driver_under_wsl_and_linux_and_lab():
    none = {"available": False, "reason": "no NVIDIA driver: NVML Shared Library Not Found"}
    wsl = hp.check_gpu(RTX_4090, none, 2, False, [], False)
    assert wsl["status"] == hp.NOT_READY and "/usr/lib/wsl/lib/libnvidia-ml.so.1 does not exist" in wsl["evidence"]
    assert "on Windows only" in wsl["fix"]
    linux = hp.check_gpu(RTX_4090, none, None, False, [], False, "Install the driver (hint).")
    assert linux["status"] == hp.NOT_READY and linux["fix"] == "Install the driver (hint)."
    lab = hp.check_gpu({"model": "Lab CDI device (no GPU)", "memory_mib": 24564}, none, None, True)
    assert lab["status"] == hp.SKIPPED and lab["reason"] == "no NVIDIA driver (lab)"
    assert hp.check_gpu(None, none, None, False)["status"] == hp.SKIPPED


def test_gpu_model_and_memory_against_ai_gpu():
    facts = nvml("pc2-jammy")
    wrong = hp.check_gpu(RTX_4090, facts, None, False)
    assert wrong["status"] == hp.NOT_READY and "model NVML reports (NVIDIA GeForce RTX 3060)" in wrong["fix"]
    rtx_3060 = {"model": "nvidia geforce rtx 3060", "memory_mib": 12288}
    assert hp.check_gpu(rtx_3060, facts, None, False)["status"] == hp.READY
    small = hp.check_gpu(dict(rtx_3060, memory_mib=16384), facts, None, False)
    assert small["status"] == hp.NOT_READY and "Set ai_gpu.memory_mib to 12288" in small["fix"]
    big = hp.check_gpu(dict(rtx_3060, memory_mib=8192), facts, None, False)
    assert big["status"] == hp.WARNING


def test_summary_text_markdown_and_failure_lines():
    items = [hp.check_cgroup("v2"), hp.check_systemd("init", 2, None, "wsl"),
             hp.check_clock(1000.0, 900.0, 30), hp.check_gpu(None, None, None, False)]
    summary = hp.summarize(items)
    assert summary["ready"] is False
    assert summary["counts"] == {"ready": 1, "not ready": 1, "warning": 1, "skipped": 1}
    assert hp.verdict(items) == "NOT READY (1 ready, 1 not ready, 1 warnings, 1 skipped)"
    assert hp.verdict(items[:1]) == "READY (1 ready, 0 not ready, 0 warnings, 0 skipped)"
    text = hp.text_lines("mainpc", items)
    assert text[0] == "mainpc: NOT READY (1 ready, 1 not ready, 1 warnings, 1 skipped)"
    assert any("skipped: no ai_gpu in the inventory" in line for line in text)
    assert any("fix: Quadlet units need systemd" in line and "[boot] / systemd=true" in line for line in text)
    md = hp.markdown("mainpc", items)
    assert "| systemd as PID 1 | not ready | PID 1 is init; /etc/wsl.conf does not exist |" in md
    assert "[boot]<br>systemd=true" in md
    lines = hp.failure_lines("mainpc", items)
    assert len(lines) == 1 and lines[0].startswith("mainpc: systemd NOT READY: PID 1 is init")
    assert len(hp.failure_lines("mainpc", items, warnings=True)) == 2
