# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the image_build module does on the controller: build each ai_images
entry whose source digest is not built yet, check the image contract, push to
the registry or write the archive the hosts load, and say what it did.

Podman runs through ``run(argv) -> (rc, stdout, stderr)``; the registry is
asked through ``head(url) -> HTTP status or an error text``, so both can be
replaced in tests.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple, Union

from ansible_collections.ai_system.containers.plugins.module_utils.images import image_build

Runner = Callable[[Sequence[str]], Tuple[int, str, str]]
Head = Callable[[str], Union[int, str]]


def layout_dir(archive_dir: str, spec: image_build.ImageSpec) -> str:
    """The controller's OCI layout of an image: one directory per name and digest."""
    return os.path.join(archive_dir, "%s-%s%s.oci" % (spec.name, image_build.TAG_PREFIX,
                                                      spec.digest[:image_build.TAG_HEX]))


def read_layout(path: str) -> Dict[str, Any]:
    """{dir, layers, files} of an OCI layout that ``podman save --format oci-dir
    --uncompressed`` wrote: its layer digests (each the layer's diff ID, as
    the layout is uncompressed) and every file, relative to the layout."""
    with open(os.path.join(path, "index.json")) as handle:
        index = json.load(handle)
    digest = index["manifests"][0]["digest"]
    with open(os.path.join(path, "blobs", "sha256", digest.split(":", 1)[1])) as handle:
        manifest = json.load(handle)
    files = []
    for top, dummy, names in os.walk(path):
        for name in names:
            files.append(os.path.relpath(os.path.join(top, name), path).replace(os.sep, "/"))
    return {"dir": path, "layers": [layer["digest"] for layer in manifest["layers"]],
            "files": sorted(files)}


def manifest_url(registry: str, ref: str, insecure: bool) -> str:
    """The registry API address of ``ref``'s manifest (``registry/repo:tag``)."""
    repo_tag = ref[len(registry) + 1:]
    repo, tag = repo_tag.rsplit(":", 1)
    return "%s://%s/v2/%s/manifests/%s" % ("http" if insecure else "https", registry, repo, tag)


def image_id(run: Runner, ref: str) -> str:
    rc, out, dummy = run(["image", "inspect", "--format", "{{.Id}}", "--", ref])
    return out.strip() if rc == 0 else ""


def build_images(params: Mapping[str, Any], run: Runner, head: Head,
                 check_mode: bool = False) -> Dict[str, Any]:
    """The module's result: ``images`` (name -> what happened), ``layouts``
    (ref -> the image's OCI layout on the controller, for the stack role), ``digests`` (lines to
    print), ``changed``; ``failed`` and ``msg`` when a build, a contract check,
    the registry or a push failed (the hosts are then untouched)."""
    model = image_build.parse_images(params.get("images"), params.get("base_dir") or ".",
                                     params.get("registry"))
    result: Dict[str, Any] = {"changed": False, "images": {}, "layouts": {}, "digests": [],
                              "references": {}, "registry": model.registry}
    if model.problems:
        result["failed"] = True
        result["msg"] = "ai_images has %d problem(s); nothing was built and no host changed:\n%s" % (
            len(model.problems), "\n".join(
                "- field %s: %s%s" % (p.field, p.message, "; " + p.fix if p.fix else "")
                for p in model.problems))
        return result
    push = bool(params.get("push")) and bool(model.registry)
    insecure = bool(params.get("registry_insecure"))
    archive_dir = params.get("archive_dir") or ""
    if model.registry:
        # An unreachable registry stops the run before anything is built.
        probe = head("%s://%s/v2/" % ("http" if insecure else "https", model.registry))
        if not isinstance(probe, int) or probe not in (200, 401):
            result["failed"] = True
            result["msg"] = ("registry %s cannot be reached (%s): start it or fix ai_registry; "
                             "nothing was built or pushed and no host changed"
                             % (model.registry, probe))
            return result
    for name in sorted(model.images):
        spec = model.images[name]
        entry: Dict[str, Any] = {"ref": spec.ref, "digest": spec.digest, "files": spec.files,
                                 "context": spec.context, "built": False, "pushed": False,
                                 "archive": "", "seconds": 0.0}
        result["images"][name] = entry
        began = time.monotonic()
        exists = run(["image", "exists", "--", spec.ref])[0] == 0
        in_registry = False
        if not exists and model.registry:
            # Built elsewhere (a CI job) and pushed: nothing to build here.
            in_registry = head(manifest_url(model.registry, spec.ref, insecure)) == 200
            entry["in_registry"] = in_registry
        if not exists and not in_registry:
            if check_mode:
                entry["built"] = True
                result["changed"] = True
                continue
            if spec.git_repo:
                dest = os.path.join(os.path.expanduser(params.get("source_dir") or
                                                       "~/.cache/ai-system/src"),
                                    "%s-%s" % (spec.name, spec.git_commit[:12]))
                os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
                why = image_build.checkout(spec.git_repo, spec.git_commit, dest)
                if why:
                    result["failed"] = True
                    result["msg"] = ("image %s: checking out %s of %s failed: %s; no host changed"
                                     % (name, spec.git_commit, spec.git_repo, why))
                    return result
                spec = spec.checked_out(dest)
                entry["context"] = spec.context
            rc, out, err = run(image_build.build_argv("podman", spec, params.get("limits"))[1:])
            if rc != 0:
                result["failed"] = True
                result["msg"] = image_build.build_failure(name, out + "\n" + err) + (
                    " (Containerfile %s); nothing was delivered and no host changed"
                    % spec.containerfile)
                return result
            entry["built"] = True
            result["changed"] = True
            if params.get("check_contract", True):
                argv = ["run", "--rm", "--network=none", "--entrypoint", image_build.CONTRACT_COMMAND[0],
                        "--", spec.ref] + list(image_build.CONTRACT_COMMAND[1:])
                rc, out, err = run(argv)
                if rc != 0:
                    # Untagged, so that the next run builds and checks it again.
                    run(["rmi", "--", spec.ref])
                    result["failed"] = True
                    result["msg"] = image_build.contract_failure(name, spec.ref, err or out) + (
                        "; nothing was delivered and no host changed")
                    return result
        entry["id"] = image_id(run, spec.ref) if not in_registry else ""
        if push and not in_registry:
            status = head(manifest_url(model.registry, spec.ref, insecure))
            if status != 200:
                if check_mode:
                    entry["pushed"] = True
                    result["changed"] = True
                else:
                    argv = ["push"] + (["--tls-verify=false"] if insecure else []) + [
                        "--", spec.ref]
                    rc, out, err = run(argv)
                    if rc != 0:
                        result["failed"] = True
                        result["msg"] = ("image %s: pushing %s failed: %s; no host changed"
                                         % (name, spec.ref, image_build.last_line(err or out)))
                        return result
                    entry["pushed"] = True
                    result["changed"] = True
        elif archive_dir and not model.registry:
            path = layout_dir(archive_dir, spec)
            entry["archive"] = path
            if not os.path.isfile(os.path.join(path, "index.json")) and not check_mode:
                os.makedirs(archive_dir, mode=0o700, exist_ok=True)
                partial = path + ".partial"
                shutil.rmtree(partial, ignore_errors=True)
                # Uncompressed: each layer blob is named by its diff ID, so a host
                # is sent only the layers its storage lacks.
                rc, out, err = run(["save", "--format", "oci-dir", "--uncompressed",
                                    "--output", partial, "--", spec.ref])
                if rc != 0:
                    result["failed"] = True
                    result["msg"] = "image %s: podman save failed: %s" % (
                        name, image_build.last_line(err or out))
                    return result
                os.replace(partial, path)
                result["changed"] = True
            if os.path.isfile(os.path.join(path, "index.json")):
                result["layouts"][spec.ref] = read_layout(path)
        entry["seconds"] = round(time.monotonic() - began, 2)
        result["digests"].append("%s %s %s" % (name, spec.ref, entry.get("id") or "in-registry"))
        result["references"][name] = {"ref": spec.ref, "id": entry.get("id", ""),
                                      "source_digest": spec.digest}
    return result


def built_summary(result: Mapping[str, Any]) -> List[str]:
    return ["%s: %s%s%s" % (name, e["ref"], " (built)" if e["built"] else "",
                            " (pushed)" if e["pushed"] else "")
            for name, e in sorted(result.get("images", {}).items())]
