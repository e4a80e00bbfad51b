# -*- coding: utf-8 -*-
# The benchmark's own callback (not part of the collection): writes each task's start and end, and the
# playbook's custom stats (the failover role publishes `failover_report` with set_stats), to the JSON file
# named by $BENCH_TIMER_OUT.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: bench_timer
    type: aggregate
    short_description: task times and custom stats to a JSON file (bench/ only)
    description:
      - Writes the start and end of every task and the custom stats of the run to C($BENCH_TIMER_OUT).
    requirements:
      - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tasks = []
        self._waited = []
        self._started = time.time()

    def _close_last(self):
        if self._tasks and self._tasks[-1]["end"] is None:
            self._tasks[-1]["end"] = time.time()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_last()
        self._tasks.append({"name": task.get_name(), "start": time.time(), "end": None})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_runner_on_ok(self, result):
        # Only the seconds a module spent waiting for the cluster (no other field of the result).
        waited = result._result.get("waited")
        if isinstance(waited, (int, float)) and not isinstance(waited, bool):
            self._waited.append({"task": result._task.get_name(), "host": result._host.get_name(), "waited": waited})

    def v2_playbook_on_stats(self, stats):
        self._close_last()
        out = os.environ.get("BENCH_TIMER_OUT")
        if not out:
            return
        custom = dict(getattr(stats, "custom", {}) or {})
        with open(out, "w") as fh:
            json.dump({"started": self._started, "ended": time.time(), "tasks": self._tasks, "waited": self._waited,
                       "custom_stats": custom.get("_run", custom)}, fh)
