# -*- coding: utf-8 -*-
"""docs/getting-started.md on the two-host lab, with nothing but the built tarball.

The tarball is installed with its declared dependencies into an empty
directory (offline: the dependencies are those of the pinned ansible package
that `make deps` unpacks, as no Galaxy is reachable here), the example
inventory is copied out of the installed collection, its secrets file is
encrypted with a throwaway vault password, and it is pointed at the lab:

* addresses - ``ansible_host`` names the lab containers (mainpc, pc2),
  ``ai_lan_address`` their addresses on the lab network;
* connection - the lab hosts are containers reached as root with the lab's
  Podman connection (``lab_podman``, pipelined as SSH is; the one thing taken
  from the repository, through ``ANSIBLE_CONNECTION_PLUGINS``) instead of
  SSH with sudo;
* one file ``group_vars/all/lab.yml`` - the lab has no GPU and no registry:
  the GPU host's CDI device is the lab's stand-in (``nvidia_toolkit_mode:
  lab``) and every group runs the stand-in agent image, loaded from its
  archive; the lab hosts have 2 CPUs (``ai_max_cpus: 1``).

Then the guide's commands run by FQCN from that directory, with the
``ansible.cfg`` the guide writes: preflight (when the installed collection
has it), site (deploy and verify), site again (changed=0), site with
``ai_phase_records=ignore`` (every phase in full, still changed=0), verify.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import yaml

from support.ansible_run import REPO
from support.lab import LAB_CONNECTION_PLUGINS, LAB_IMAGES

BIN = os.path.dirname(sys.executable)
DEPS = os.path.join(REPO, ".deps", "collections", "ansible_collections")
LAB = {"gpu-pc": ("mainpc", "10.89.100.16"), "cpu-pc": ("pc2", "10.89.100.17")}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.MULTILINE)


def _build_tarball(dest):
    res = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build",
                          "--output-path", str(dest), REPO], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    (tarball,) = [p for p in os.listdir(dest) if p.endswith(".tar.gz")]
    return os.path.join(str(dest), tarball)


def _edit_yaml(path, edit):
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _point_at_the_lab(inventory):
    def hosts(data):
        for group in ("gpu", "cpu"):
            for name, host in data["ai_hosts"]["children"][group]["hosts"].items():
                host["ansible_host"] = LAB[name][0]
    _edit_yaml(inventory / "hosts.yml", hosts)
    for name, (dummy, address) in LAB.items():
        _edit_yaml(inventory / "host_vars" / name / "host.yml",
                   lambda data, address=address: data.update(ai_lan_address=address))
    (inventory / "group_vars" / "all" / "connection.yml").write_text(yaml.safe_dump({
        "ansible_connection": "lab_podman",
        "ansible_pipelining": True,
        "ansible_python_interpreter": "/usr/bin/python3",
    }))
    (inventory / "group_vars" / "all" / "lab.yml").write_text(yaml.safe_dump({
        "nvidia_toolkit_mode": "lab",
        "ai_max_cpus": 1,
        "ai_host_group_defaults": {"image": "localhost/ai-system/stand-in-agent:latest"},
        "stack_image_archives": {"localhost/ai-system/stand-in-agent:latest":
                                 os.path.join(LAB_IMAGES, "stand-in-agent.tar")},
    }))


def _recap(stdout):
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)),
                         "unreachable": int(m.group(4)), "failed": int(m.group(5))}
            for m in RECAP.finditer(stdout)}


def test_the_guide_from_the_tarball_deploys_and_converges_on_the_lab(lab, tmp_path):
    # 1. Install: the tarball and its declared dependencies, into an empty directory.
    tarball = _build_tarball(tmp_path / "dist")
    work = tmp_path / "work"
    home = tmp_path / "home"
    work.mkdir()
    home.mkdir()
    collections = tmp_path / "collections"
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    for name in dependencies:
        namespace, coll = name.split(".")
        shutil.copytree(os.path.join(DEPS, namespace, coll),
                        str(collections / "ansible_collections" / namespace / coll))
    env = {"PATH": BIN + os.pathsep + "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1",
           "ANSIBLE_CONNECTION_PLUGINS": LAB_CONNECTION_PLUGINS}

    def run(*argv, check=True):
        res = subprocess.run(list(argv), cwd=str(work), env=env, capture_output=True, text=True,
                             check=False, timeout=1800)
        if check:
            assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-3000:]
        return res

    run(os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", tarball)
    installed = collections / "ansible_collections" / "ai_system" / "containers"
    assert (installed / "MANIFEST.json").exists()
    listing = run(os.path.join(BIN, "ansible-galaxy"), "collection", "list").stdout
    for name in ["ai_system.containers"] + list(dependencies):
        assert name in listing

    # 2. Copy the example inventory and point it at the lab.
    shutil.copytree(str(installed / "examples" / "inventory"), str(work / "inventory"))
    _point_at_the_lab(work / "inventory")

    # 3. The vault: a throwaway password file, the guide's ansible.cfg, the file encrypted.
    password = home / ".ai-system-vault-pass"
    password.write_text("a-throwaway-lab-password\n")
    password.chmod(0o600)
    (work / "ansible.cfg").write_text("[defaults]\nvault_password_file = ~/.ai-system-vault-pass\n")
    vault = work / "inventory" / "group_vars" / "all" / "vault.yml"
    run(os.path.join(BIN, "ansible-vault"), "encrypt", "inventory/group_vars/all/vault.yml")
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")

    playbook = os.path.join(BIN, "ansible-playbook")

    # 4. Preflight, where the installed collection has it.
    if (installed / "playbooks" / "preflight.yml").exists():
        res = run(playbook, "-i", "inventory", "ai_system.containers.preflight")
        assert all(r["failed"] == 0 for r in _recap(res.stdout).values())

    # 5. Deploy and verify.
    first = run(playbook, "-i", "inventory", "ai_system.containers.site")
    recap = _recap(first.stdout)
    assert set(LAB) <= set(recap) and all(recap[h]["changed"] > 0 for h in LAB)
    report = json.loads((work / "reports" / "latest.json").read_text())
    assert report["ok"] is True
    assert sorted(report["hosts"]) == sorted(LAB)
    cross = [lk for host in report["hosts"].values() for lk in host["links"] if lk["cross_host"]]
    assert [(lk["from_group"], lk["name"], lk["status"]) for lk in cross] == [
        ("coordinator", "InferenceAgent", "passed")]
    # The secret reached the GPU group as the guide's example says, from the vaulted file.
    env_out = lab.exec("mainpc", "podman", "exec", "inference", "printenv", "AI_API_TOKEN").stdout
    assert env_out.strip() == "replace-with-your-token"

    # A second run changes nothing.
    second = run(playbook, "-i", "inventory", "ai_system.containers.site")
    recap = _recap(second.stdout)
    assert {h: recap[h]["changed"] for h in LAB} == {h: 0 for h in LAB}, second.stdout[-4000:]

    # ai_phase_records=ignore: no record compared, every phase in full, still changed=0.
    full = run(playbook, "-i", "inventory", "ai_system.containers.site",
               "-e", "ai_phase_records=ignore")
    recap = _recap(full.stdout)
    assert {h: recap[h]["changed"] for h in LAB} == {h: 0 for h in LAB}, full.stdout[-4000:]
    said = set(re.findall(r"([\w-]+): (Podman|toolkit|stack files) phase runs: ai_phase_records=ignore",
                          full.stdout))
    assert {("gpu-pc", "Podman"), ("cpu-pc", "Podman"), ("gpu-pc", "toolkit"),
            ("gpu-pc", "stack files"), ("cpu-pc", "stack files")} <= said, sorted(said)
    assert sum(recap[h]["ok"] for h in LAB) > sum(_recap(second.stdout)[h]["ok"] for h in LAB)

    # 6. Verify, read-only.
    verify = run(playbook, "-i", "inventory", "ai_system.containers.verify")
    recap = _recap(verify.stdout)
    assert {h: recap[h]["changed"] for h in LAB} == {h: 0 for h in LAB}
    assert json.loads((work / "reports" / "latest.json").read_text())["ok"] is True
