# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of a host's images are missing, how each one arrives, and the error
that names those that did not.

Pure Python, no Ansible imports. An image the host lacks is loaded from its
archive when the controller has one for it, and pulled otherwise.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import name_problem
from ansible_collections.ai_system.containers.plugins.module_utils.images.image_build import TAG_HEX, TAG_PREFIX

Image = Mapping[str, Any]


def image_problem(option: str, image: Any) -> Optional[str]:
    """Why ``image`` cannot be passed to podman as an image name, or None."""
    return name_problem(option, image, "image", tools="podman", article="an")


def archive_path(archive_dir: str, image: str) -> str:
    """Where the archive of `image` lands on the host: one file per image name."""
    return os.path.join(archive_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", image) + ".tar")


def layout_path(archive_dir: str, image: str) -> str:
    """Where the OCI layout of `image` lands on the host: one directory per image name."""
    return os.path.join(archive_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", image) + ".oci")


def layout_files(layout: Mapping[str, Any], host_layers: Iterable[str]) -> List[str]:
    """The files of an uncompressed OCI layout to copy to a host: all of them
    but the layer blobs whose digest (an uncompressed layer's diff ID) the
    host's storage has already; Podman reuses those when it pulls the layout."""
    have = set(host_layers)
    skip = {"blobs/sha256/" + d.split(":", 1)[-1] for d in layout.get("layers") or [] if d in have}
    return [f for f in layout.get("files") or [] if f not in skip]


def plan_images(images: Sequence[Image], present: Iterable[str], archives: Mapping[str, str],
                archive_dir: str, pull: bool = True,
                layouts: Optional[Mapping[str, Mapping[str, Any]]] = None,
                host_layers: Iterable[str] = ()) -> Dict[str, List[Any]]:
    """{present, layout, load, pull, missing}, each in the order of `images`.

    `present`: the images already there; `layout`: the missing ones that come
    as an uncompressed OCI layout ({image, groups, src, dest, files}: only the
    files the host lacks, see `layout_files`); `load`: the missing ones that
    come from an archive ({image, groups, src, dest}); `pull`: the other
    missing ones ({image, groups}) when pulling is allowed; `missing`: those,
    when it is not ({image, groups, how, reason}, as `missing_message` reads
    them).
    """
    have = set(present)
    layouts = layouts or {}
    host_layers = list(host_layers)
    result: Dict[str, List[Any]] = {"present": [], "layout": [], "load": [], "pull": [],
                                    "missing": []}
    for item in images:
        name = item["image"]
        groups = list(item.get("groups") or [])
        if name in have:
            result["present"].append(name)
        elif name in layouts:
            result["layout"].append({"image": name, "groups": groups,
                                     "src": layouts[name]["dir"],
                                     "dest": layout_path(archive_dir, name),
                                     "files": layout_files(layouts[name], host_layers)})
        elif name in archives:
            result["load"].append({"image": name, "groups": groups, "src": archives[name],
                                   "dest": archive_path(archive_dir, name)})
        elif pull:
            result["pull"].append({"image": name, "groups": groups})
        else:
            result["missing"].append({"image": name, "groups": groups, "how": "pulled",
                                      "reason": "pulling is turned off"})
    return result


def in_order(images: Sequence[Image], entries: Iterable[Mapping[str, Any]]) -> List[Any]:
    """`entries` (each with an `image`) in the order of `images`."""
    rank = {item["image"]: index for index, item in enumerate(images)}
    return sorted(entries, key=lambda entry: rank.get(entry["image"], len(rank)))


def last_line(text: str) -> str:
    """The last line of a command's output that says something, or `no message`."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def missing_message(host: str, missing: Sequence[Mapping[str, Any]]) -> str:
    """One error naming every image still missing, with its groups and why.

    Each entry of `missing` is {image, groups, how, reason}: `how` completes
    "could not be ..." (``pulled``, ``loaded from /var/lib/ai-system/images/x.tar``).
    """
    parts = []
    for entry in missing:
        parts.append("group %s: image %s is not on the host and could not be %s (%s); "
                     % (", group ".join(entry["groups"]), entry["image"], entry["how"],
                        entry["reason"]))
    return ("host %s: %sfix the image name in the inventory, or load the image "
            "(stack_image_archives); no unit was changed" % (host, "".join(parts)))


# The tag image_build gives an image built from source.
BUILT_TAG = re.compile(r"^%s[0-9a-f]{%d}\Z" % (re.escape(TAG_PREFIX), TAG_HEX))


def earlier_builds(wanted: Iterable[str], local: Sequence[Mapping[str, Any]], keep: int = 1) -> List[str]:
    """The tags of earlier builds that may go: for every wanted image built
    from source (``<repository>:src-<12 hex>``), the other ``src-`` tags of
    its repository in ``local`` (``podman images --format json``: Names, the
    tags, or RepoTags; Created; Containers), newest first, but the ``keep`` newest (a way back)
    and any image a container uses. Images the collection does not build
    are never listed."""
    wanted = set(wanted)
    repositories = {ref.rsplit(":", 1)[0] for ref in wanted
                    if ":" in ref and BUILT_TAG.match(ref.rsplit(":", 1)[1])}
    earlier: Dict[str, List[Tuple[int, str, int]]] = {}
    seen = set()
    for image in local:
        # Podman lists an image once per name, each time with all its names.
        for tag in image.get("Names") or image.get("RepoTags") or []:
            repository, dummy, name = tag.rpartition(":")
            if (repository in repositories and BUILT_TAG.match(name) and tag not in wanted
                    and tag not in seen):
                seen.add(tag)
                earlier.setdefault(repository, []).append(
                    (int(image.get("Created") or 0), tag, int(image.get("Containers") or 0)))
    going = []
    for repository in sorted(earlier):
        ordered = sorted(earlier[repository], reverse=True)
        going += [tag for dummy, tag, used in ordered[max(keep, 0):] if not used]
    return going
