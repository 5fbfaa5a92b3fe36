# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's verify checks in one module call, each in its own thread.

The module ai_system.containers.host_checks is a thin wrapper around
:func:`run_checks`.  The checks are ``verify_checks.VERIFY_CHECKS``: each
one's name is its key in the options and the result; it names the module
whose options it takes and whose result it returns, that module's argument
spec and its ``run`` function from module_utils.  Each check's options are validated (and defaulted) with that
spec, then its ``run`` gets a view of the module with those options, so its
result is what the module alone ends with: ``failed`` and ``msg`` where the
module fails.  A check whose options are invalid, or whose ``run`` raises,
becomes a failed result of its own; the other checks are not affected.
"""

from __future__ import annotations

import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import (
    VERIFY_CHECKS, VerifyCheck,
)


class ModuleView:
    """``module`` as one check sees it: its own ``params`` and check mode,
    no diff; everything else (``run_command``, ``get_bin_path``...) is the module's."""

    def __init__(self, module: Any, params: Dict[str, Any], check_mode: bool) -> None:
        self._module = module
        self.params = params
        self.check_mode = check_mode
        self._diff = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def run_one(check: VerifyCheck, module: Any, args: Mapping[str, Any],
            monotonic: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """``check`` with the options ``args``: its module's result plus ``failed`` and ``elapsed_s``."""
    started = monotonic()
    try:
        validator = ArgumentSpecValidator(dict(check.argument_spec),
                                          mutually_exclusive=list(check.mutually_exclusive) or None,
                                          required_one_of=list(check.required_one_of) or None)
        validation = validator.validate(dict(args))
        if validation.error_messages:
            result = {"failed": True, "changed": False,
                      "msg": "invalid options for %s (%s): %s"
                             % (check.name, check.module, "; ".join(validation.error_messages))}
        else:
            check_mode = module.check_mode if check.check_mode is None else check.check_mode
            result = dict(check.run(ModuleView(module, validation.validated_parameters, check_mode)))
    except Exception as exc:  # pylint: disable=broad-except  # one check must not hide the others
        result = {"failed": True, "changed": False,
                  "msg": "%s (%s) raised %s: %s" % (check.name, check.module, type(exc).__name__, exc),
                  "exception": traceback.format_exc()}
    result["failed"] = bool(result.get("failed"))
    result["elapsed_s"] = round(monotonic() - started, 3)
    return result


def run_checks(module: Any, checks: Sequence[VerifyCheck] = VERIFY_CHECKS,
               monotonic: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Every check of ``checks`` whose name ``module.params`` gives (not None),
    all at the same time; return host_checks' result."""
    started = monotonic()
    wanted = [c for c in checks if module.params.get(c.name) is not None]
    results: Dict[str, Optional[Dict[str, Any]]] = dict((c.name, None) for c in checks)
    if wanted:
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            futures = [(c, pool.submit(run_one, c, module, module.params[c.name], monotonic)) for c in wanted]
            for check, future in futures:
                results[check.name] = future.result()
    failed: List[str] = [c.name for c in wanted if results[c.name]["failed"]]
    elapsed = round(monotonic() - started, 3)
    if not wanted:
        msg = "no checks given"
    else:
        msg = "%d check(s) in %.2f s: %s" % (len(wanted), elapsed, "; ".join(
            "%s %s (%.2f s)" % (c.name, "failed" if results[c.name]["failed"] else "ran", results[c.name]["elapsed_s"])
            for c in wanted))
    return dict(results, changed=False, checks_run=[c.name for c in wanted], failed_checks=failed,
                elapsed_s=elapsed, msg=msg)
