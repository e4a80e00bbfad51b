# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: every task result as a JSON callback renders it, written to a file.

ansible-core ships no json stdout callback (it is in ansible.posix, which the suite does not install), and
the stdout callback must stay `default` because the tests read its text. This notification callback keeps
what a JSON callback would print - plays, tasks, each host's result as callbacks receive it (no_log already
applied by Ansible), the stats and custom stats - in $VAULTOPS_JSON_RECORD, so the secret scan reads it.
"""

from __future__ import annotations

import json
import os

from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: json_record
type: notification
short_description: Task results as JSON in a file (tests only)
description: Writes plays, tasks and every host's result as JSON to the file named by VAULTOPS_JSON_RECORD.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "json_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.path = os.environ.get("VAULTOPS_JSON_RECORD")
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self.plays:
            self.plays[-1]["tasks"].append({"task": {"name": task.get_name(), "action": task.action}, "hosts": {}})

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _record(self, result, **_kwargs):
        if self.plays and self.plays[-1]["tasks"]:
            res = getattr(result, "result", None)
            if res is None:
                res = result._result
            self.plays[-1]["tasks"][-1]["hosts"][result._host.get_name()] = dict(res)

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _record
    v2_runner_item_on_ok = v2_runner_item_on_failed = v2_runner_item_on_skipped = _record

    def v2_playbook_on_stats(self, stats):
        if not self.path:
            return
        hosts = sorted(stats.processed.keys())
        out = {"plays": self.plays, "stats": {h: stats.summarize(h) for h in hosts},
               "custom_stats": getattr(stats, "custom", {})}
        with open(self.path, "w", encoding="utf-8") as handle:
            json.dump(out, handle, cls=AnsibleJSONEncoder, indent=2, sort_keys=True, default=str)
