# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side Kubernetes manifests of the whole stack (see the kube_manifests module docs)."""

from __future__ import annotations

from ansible_collections.ai_system.containers.plugins.action.stack_plan import HOSTS_SPEC, PlannedHostsAction
from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_health
from ansible_collections.ai_system.containers.plugins.module_utils.kube.kube_manifests import (
    kube_stack, kustomization, podman_documents,
)
from ansible_collections.ai_system.containers.plugins.module_utils.kube.kube_options import KUBE_OPTION_DEFAULTS
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain
from ansible_collections.ai_system.containers.plugins.plugin_utils.kube_yaml import dump_documents

PODMAN_FILE = "podman/ai-system.yaml"


def probe_source():
    """The health probe's own text, which the pods mount from a ConfigMap."""
    with open(zmq_health.__file__, encoding="utf-8") as handle:
        return handle.read()


def render_files(all_hostvars, options, source):
    """(stack, {file name: YAML text}) for the kustomization, its resources
    and the podman kube play variant; no files when the stack has problems."""
    stack = kube_stack(all_hostvars, source, options)
    if not stack.ok:
        return stack, {}
    namespace = (options or {}).get("namespace") or KUBE_OPTION_DEFAULTS["namespace"]
    files = {name: dump_documents(docs) for name, docs in stack.files.items()}
    files["kustomization.yaml"] = dump_documents([kustomization(stack, namespace)])
    files[PODMAN_FILE] = dump_documents(podman_documents(stack))
    return stack, files


class ActionModule(PlannedHostsAction):
    _VALID_ARGS = frozenset(tuple(HOSTS_SPEC) + ("options",))
    EXTRA_SPEC = {"options": {"type": "dict", "default": {}}}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args, collected = self.planned(result, task_vars or {}, "kube_manifests")
        if collected is None:
            return result
        stack, files = render_files(collected,
                                    plain(args["options"]), probe_source())
        errors = [str(p) for p in stack.problems]
        result.update(changed=False, files=files, errors=errors,
                      problems=[p.as_dict() for p in stack.problems],
                      warnings=list(stack.warnings),
                      order=[{"host": h, "group": g} for h, g in stack.order])
        if errors:
            result["failed"] = True
            result["msg"] = ("The inventory cannot be written as Kubernetes manifests "
                             "(%d problem(s)); nothing was written:\n%s"
                             % (len(errors), "\n".join("- " + e for e in errors)))
        else:
            result["msg"] = "%d groups as %d files" % (len(stack.order), len(files))
        return result
