# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of vaultops.dr.run_lock: the double-launch guard, on the controller (see the module's docs)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.vaultops.dr.plugins.plugin_utils._run_lock import (
    CONNECTION_OPTIONS,
    LockBusy,
    LockError,
    RunLock,
    run_identity,
)

ARGSPEC = dict(
    names=dict(type="list", elements="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    lock_dir=dict(type="path"),
    purpose=dict(type="str", default="a vaultops.dr run"),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        # Accepted and ignored, so the task can sit under module_defaults: group/vaultops.dr.dr.
        args = {k: v for k, v in self._task.args.items() if k not in CONNECTION_OPTIONS}
        self._task.args = args
        _spec, params = self.validate_argument_spec(argument_spec=ARGSPEC)
        names = [n for n in params["names"] if n]
        if not names:
            raise AnsibleActionFail("run_lock: names is empty; give what to lock, e.g. every cluster's vault_addr.")
        lock = RunLock(params["lock_dir"], run_identity(task_vars, params["purpose"]))
        try:
            if params["state"] == "present":
                out = lock.acquire(names, check=self._task.check_mode)
            else:
                out = lock.release(names, check=self._task.check_mode)
        except LockBusy as exc:
            result.update(failed=True, msg=str(exc), holder=exc.holder, lock_file=exc.path, changed=False)
            return result
        except LockError as exc:
            result.update(failed=True, msg=str(exc), changed=False)
            return result
        for warning in out.pop("warnings"):
            self._display.warning(warning)
        result.update(out)
        return result
