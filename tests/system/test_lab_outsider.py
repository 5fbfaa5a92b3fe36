# -*- coding: utf-8 -*-
"""A LAN outsider against the two-host lab: the real network, Prometheus, boot.

A third container on the lab network (neither mainpc nor pc2, neither a peer
nor a Prometheus viewer) routes each host's container subnet through that
host, as a LAN neighbour can, and tries every container port:

1. the shipped inventory with monitoring: Prometheus (on 127.0.0.1) answers
   no one from the LAN;
2. pc2's ``ai-system`` network replaced, behind the deploy's back, by one of
   another range, and mainpc's subnet moved in the inventory; one deploy must
   recreate both networks with the plan's subnets, and then no container
   port answers the outsider; Prometheus, opened to the outsider in the same
   deploy (viewers, TLS, basic auth), answers it with the password only, and
   still no one else (pc2);
3. pc2 booted with its firewall unit failing: no group starts; the next good
   boot starts them all;
4. back to the shipped inventory: mainpc's network is recreated again.

Needs the lab images (``make images``) and the lab-prometheus archive.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
import yaml

from support.ansible_run import REPO
from support.lab import LAB_IMAGES, LAB_INVENTORY, PORT_PROBE, lan_outsider, opened, probe_ports, sh

OUTSIDER = "ai-system-lab-stranger"
OUTSIDER_IP = "10.89.100.98"
NETWORK = "ai-system"
FIREWALL_UNIT = "ai-system-firewall.service"
FIREWALL_FILE = "/etc/ai-system/firewall.nft"
MOVED_SUBNETS = {"mainpc": "172.30.0.0/16", "pc2": "172.21.0.0/16"}
STALE_PC2_SUBNET = "10.213.50.0/24"
PROMETHEUS_PORT = 9090
USER, PASSWORD = "viewer", "lab-viewer-password"
TLS_DIR = "/etc/ai-lab-tls"
MONITORING_VARS = os.path.join(REPO, "inventory", "lab-monitoring.yml")
NETWORK_TASK = "Make the container network have the plan's subnet"

# GET url [user:password] over TLS (certificate not checked): the HTTP status or the error.
FETCH = r"""
import base64, ssl, sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    req.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[2].encode()).decode())
try:
    print(urllib.request.urlopen(req, timeout=5, context=ssl._create_unverified_context()).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except Exception as exc:
    print("error %s" % exc)
"""


def failures(run):
    return [f["res"].get("msg") for f in run.failures()]


def inventory_with(tmp_root, name, subnets):
    """The lab inventory with each host's ai_network_subnet as given."""
    dest = tmp_root / ("inventory-%s" % name)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(LAB_INVENTORY, dest, symlinks=False)
    for host, subnet in subnets.items():
        path = dest / "host_vars" / host / "host.yml"
        data = yaml.safe_load(path.read_text())
        data["ai_network_subnet"] = subnet
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(dest)


def monitoring_vars(**prometheus):
    with open(MONITORING_VARS) as handle:
        extravars = yaml.safe_load(handle)
    extravars["ai_monitoring"]["prometheus"].update(prometheus)
    return extravars


def real_subnets(lab, host):
    out = lab.exec(host, "podman", "network", "inspect", NETWORK).stdout
    return sorted(s["subnet"] for s in json.loads(out)[0]["subnets"])


def services(plan, host):
    return [u["service"] for u in plan["hosts"][host]["units"]]


def wait_healthy(lab, plan, hosts, timeout=300):
    start = time.monotonic()
    pending = None
    while time.monotonic() - start < timeout:
        pending = []
        for host in hosts:
            units = plan["hosts"][host]["units"]
            props = lab.unit_props(host, [u["service"] for u in units])
            pending += ["%s/%s" % (host, u["group"]) for u in units
                        if props[u["service"]]["ActiveState"] != "active"
                        or (u["healthcheck"] and lab.health(host, u["container"]) != "healthy")]
        if not pending:
            return time.monotonic() - start
        time.sleep(3)
    raise AssertionError("not healthy after %d s: %s" % (timeout, ", ".join(pending)))


def targets(lab, plan, host):
    """Every port of every container of ``host``, by the container's address."""
    return lab.container_targets(plan["hosts"][host], host)


def probe(where, addresses, timeout=1.0):
    """Connect from the outsider (where=None) or a lab host to each address:port."""
    return probe_ports(where or OUTSIDER, addresses, timeout)


@pytest.fixture(scope="module")
def stranger(lab):
    """A third machine on the lab network, routing each container subnet via its host."""
    if not os.path.exists(os.path.join(LAB_IMAGES, "lab-prometheus.tar")):
        pytest.fail("lab image archive lab-prometheus.tar is missing: run `make images`")
    with lan_outsider(OUTSIDER, OUTSIDER_IP, (("172.20.0.0/16", "10.89.100.16"),
                                              (MOVED_SUBNETS["mainpc"], "10.89.100.16"),
                                              (MOVED_SUBNETS["pc2"], "10.89.100.17"))) as name:
        yield name


def plan_of(inventory, extravars):
    from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
    from support.inventory import load_inventory_dir
    hostvars = load_inventory_dir(inventory)
    for host in hostvars.values():
        host["ai_monitoring"] = extravars["ai_monitoring"]
    plan = build_plan(hostvars)
    assert plan["errors"] == []
    return plan


@pytest.fixture(scope="module")
def shipped(lab, stranger):
    """The shipped inventory deployed with monitoring (no viewers)."""
    extravars = monitoring_vars()
    run = lab.playbook(extravars=extravars)
    assert run.rc == 0, failures(run)
    plan = plan_of(LAB_INVENTORY, extravars)
    wait_healthy(lab, plan, lab.hosts)
    return plan


def test_prometheus_answers_no_one_from_the_lan_by_default(lab, shipped):
    lan = "10.89.100.16:%d" % PROMETHEUS_PORT
    assert opened(probe(None, [lan])) == []
    assert opened(probe("pc2", [lan])) == []
    local = lab.exec("mainpc", "python3", "-c", PORT_PROBE, "1", "127.0.0.1:%d" % PROMETHEUS_PORT).stdout
    assert json.loads(local) == {"127.0.0.1:%d" % PROMETHEUS_PORT: "open"}


@pytest.fixture(scope="module")
def moved(lab, shipped, tmp_path_factory):
    """One deploy: pc2's network replaced by one of another range (its groups
    stopped for that), mainpc's subnet moved in the inventory, Prometheus
    opened to the outsider."""
    root = tmp_path_factory.mktemp("outsider")
    inventory = inventory_with(root, "moved", MOVED_SUBNETS)
    lab.exec("pc2", "systemctl", "stop", *services(shipped, "pc2"), timeout=300)
    lab.exec("pc2", "podman", "network", "rm", NETWORK)
    lab.exec("pc2", "podman", "network", "create", "--subnet", STALE_PC2_SUBNET, NETWORK)
    before = {h: real_subnets(lab, h) for h in lab.hosts}
    digest = _viewer_credentials(root)
    extravars = monitoring_vars(viewers=[OUTSIDER_IP], web={
        "tls_cert": "%s/cert.pem" % TLS_DIR, "tls_key": "%s/key.pem" % TLS_DIR,
        "users": {USER: digest}})
    extravars.update(verify_prometheus_user=USER, verify_prometheus_password=PASSWORD)
    run = lab.playbook(inventory=inventory, extravars=extravars)
    assert run.rc == 0, failures(run)
    plan = plan_of(inventory, extravars)
    wait_healthy(lab, plan, lab.hosts)
    return {"inventory": inventory, "plan": plan, "before": before, "run": run, "root": root}


def test_networks_of_another_range_are_recreated_with_the_plans_subnets(lab, moved):
    print("\nbefore the deploy: %s" % moved["before"])
    for host in lab.hosts:
        assert real_subnets(lab, host) == [MOVED_SUBNETS[host]]
    assert moved["before"] == {"mainpc": ["172.20.0.0/16"], "pc2": [STALE_PC2_SUBNET]}
    results = moved["run"].task_results(NETWORK_TASK)
    for host in lab.hosts:
        assert results[host]["changed"], results[host]
        assert results[host]["subnets_before"] == moved["before"][host]
        assert results[host]["subnets"] == [MOVED_SUBNETS[host]]


def test_no_container_port_answers_the_outsider_on_the_new_subnets(lab, moved):
    for host in lab.hosts:
        addresses = targets(lab, moved["plan"], host)
        assert all(a.startswith(MOVED_SUBNETS[host].rsplit(".", 2)[0]) for a in addresses), addresses
        results = probe(None, addresses)
        print("\n%s: %d container ports from the outsider: %s" % (
            host, len(results), sorted(set(results.values()))))
        assert opened(results) == []
    # The ground truth: the host itself reaches them.
    assert opened(probe("mainpc", targets(lab, moved["plan"], "mainpc")))


def _viewer_credentials(root):
    """A self-signed certificate for mainpc's LAN address, copied to mainpc,
    and the bcrypt hash of the viewer's password."""
    cert, key = root / "cert.pem", root / "key.pem"
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=mainpc", "-addext", "subjectAltName=IP:10.89.100.16",
        "-keyout", str(key), "-out", str(cert)])
    sh(["podman", "exec", "mainpc", "mkdir", "-p", TLS_DIR])
    for path in (cert, key):
        sh(["podman", "cp", str(path), "mainpc:%s/%s" % (TLS_DIR, path.name)])
    # The lab image's user (prometheus) reads the key: lab only.
    sh(["podman", "exec", "mainpc", "chmod", "0644", "%s/cert.pem" % TLS_DIR, "%s/key.pem" % TLS_DIR])
    digest = sh(["python3", "-W", "ignore", "-c",
                 "import crypt, sys; print(crypt.crypt(sys.argv[1], "
                 "crypt.mksalt(crypt.METHOD_BLOWFISH)))", PASSWORD]).stdout.strip()
    assert digest.startswith("$2"), "this Python's crypt has no bcrypt: %r" % digest
    return digest


def test_prometheus_opened_to_a_viewer_answers_it_with_the_password_only(lab, moved):
    url = "https://10.89.100.16:%d/api/v1/status/buildinfo" % PROMETHEUS_PORT

    def fetch(*auth):
        return sh(["podman", "exec", OUTSIDER, "python3", "-c", FETCH, url] + list(auth),
                  timeout=60).stdout.strip()

    deadline = time.monotonic() + 60
    while fetch("%s:%s" % (USER, PASSWORD)) != "200" and time.monotonic() < deadline:
        time.sleep(2)
    assert fetch("%s:%s" % (USER, PASSWORD)) == "200"
    assert fetch() == "401"
    assert fetch("%s:wrong" % USER) == "401"
    # Anyone else on the LAN, pc2 included, is dropped by the firewall.
    assert opened(probe("pc2", ["10.89.100.16:%d" % PROMETHEUS_PORT])) == []
    unit = lab.exec("mainpc", "cat", "/etc/containers/systemd/ai-prometheus.container").stdout
    for line in ("NoNewPrivileges=true", "DropCapability=ALL", "ReadOnly=true",
                 "Requires=ai-system-firewall.service"):
        assert line in unit.splitlines()


def _boot(lab, host):
    sh(["podman", "restart", "--time", "60", host], timeout=400)
    lab.exec(host, "systemctl", "is-system-running", "--wait", check=False, timeout=300)


def test_a_firewall_that_fails_at_boot_leaves_every_group_stopped(lab, moved):
    plan, host = moved["plan"], "pc2"
    lab.exec(host, "mv", FIREWALL_FILE, FIREWALL_FILE + ".aside")
    try:
        _boot(lab, host)
        time.sleep(10)  # anything that would start has had its chance
        assert lab.unit_props(host, [FIREWALL_UNIT])[FIREWALL_UNIT]["ActiveState"] == "failed"
        props = lab.unit_props(host, services(plan, host))
        running = {s: p["ActiveState"] for s, p in props.items() if p["ActiveState"] != "inactive"
                   and p["ActiveState"] != "failed"}
        assert running == {}, running
        assert lab.exec(host, "podman", "ps", "-q").stdout.strip() == ""
        print("\nboot with a failing firewall unit on %s: %d groups, none started"
              % (host, len(props)))
    finally:
        lab.exec(host, "mv", FIREWALL_FILE + ".aside", FIREWALL_FILE)
    _boot(lab, host)
    took = wait_healthy(lab, plan, [host])
    print("the next good boot: every group of %s healthy within %.1f s" % (host, took))
    assert lab.unit_props(host, [FIREWALL_UNIT])[FIREWALL_UNIT]["ActiveState"] == "active"


def test_back_to_the_shipped_inventory_the_networks_move_again(lab, lab_plan, moved):
    run = lab.playbook(extravars=monitoring_vars())
    assert run.rc == 0, failures(run)
    results = run.task_results(NETWORK_TASK)
    assert results["mainpc"]["changed"] and results["mainpc"]["subnets"] == ["172.20.0.0/16"]
    assert real_subnets(lab, "mainpc") == ["172.20.0.0/16"]
