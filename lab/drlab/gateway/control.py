"""Fault injection (status faults, lost answers, latency, cut replication links), the request log of the API
address, and the lab's control API (``POST /drlab/control``, guarded by the lab's secret). All of it lives in
the gateway's memory: a restart clears it."""

from __future__ import annotations

import collections
import fnmatch
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .messages import ApiError, fault_message

if TYPE_CHECKING:
    from .core import Gateway

REQUEST_LOG_SIZE = 5000

Fault = dict[str, Any]


class Faults:
    """Injected faults; every read and change under one lock; readers get copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency: list[dict[str, Any]] = []
        self._cut: set[str] = set()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(dict(fault))

    def take(self, method: str, vpath: str) -> Fault | None:
        """The first fault matching the request (its count goes down by one; spent faults are dropped)."""
        with self._lock:
            for f in self._faults:
                if f["count"] == 0:
                    continue
                if f.get("method") and f["method"].upper() != method:
                    continue
                if not fnmatch.fnmatchcase(vpath, f["path"]):
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                self._faults = [x for x in self._faults if x["count"] != 0]
                return dict(f)
        return None

    def set_latency(self, seconds: float, path: str, count: int = -1, method: str = "") -> None:
        """``count`` > 0: only the next ``count`` matching requests wait (then the latency is dropped); -1: all."""
        with self._lock:
            self._latency = [x for x in self._latency if x.get("path") != path or (x.get("method") or "") != method]
            if seconds > 0 and count != 0:
                self._latency.append({"seconds": seconds, "path": path, "count": int(count), "method": method})

    def delay_for(self, vpath: str, method: str = "") -> float:
        with self._lock:
            total = 0.0
            for x in self._latency:
                if x.get("path") and not fnmatch.fnmatchcase(vpath, x["path"]):
                    continue
                if x.get("method") and x["method"].upper() != method.upper():
                    continue
                total += float(x["seconds"])
                if x.get("count", -1) > 0:
                    x["count"] -= 1
            self._latency = [x for x in self._latency if x.get("count", -1) != 0]
            return total

    def cut(self, peer: str) -> None:
        with self._lock:
            self._cut.add(peer)

    def restore(self, peer: str) -> None:
        with self._lock:
            self._cut.discard(peer)

    def is_cut(self, peer: str) -> bool:
        with self._lock:
            return peer in self._cut

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()
            self._cut.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [dict(f) for f in self._faults], "latency": [dict(x) for x in self._latency],
                    "cut_links": sorted(self._cut)}


class RequestLog:
    """The last ``REQUEST_LOG_SIZE`` requests clients sent to the API address."""

    def __init__(self, size: int = REQUEST_LOG_SIZE):
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        # requests that arrived and are not answered yet (a test stops a cluster or kills a client mid-request)
        self._in_flight: dict[int, dict[str, Any]] = {}
        self._next = 0

    def begin(self, entry: dict[str, Any]) -> int:
        with self._lock:
            self._next += 1
            self._in_flight[self._next] = dict(entry)
            return self._next

    def end(self, key: int) -> None:
        with self._lock:
            self._in_flight.pop(key, None)

    def in_flight(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted((dict(e) for e in self._in_flight.values()), key=lambda e: float(e["time"]))

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(dict(entry))

    def since(self, since: float | None = None) -> list[dict[str, Any]]:
        with self._lock:
            entries = [dict(e) for e in self._entries]
        if since is not None:
            entries = [e for e in entries if e["time"] >= float(since)]
        return entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._in_flight.clear()


Action = Callable[[dict[str, Any]], dict[str, Any]]


class ControlApi:
    """The actions of ``/drlab/control`` (a table built once)."""

    def __init__(self, gw: Gateway):
        self.gw = gw
        self.actions: dict[str, Action] = {
            "ping": lambda body: {"ok": True, "pid": os.getpid()},
            "status": self._status,
            "fault": self._fault,
            "latency": self._latency,
            "op_token_auth": self._op_token_auth,
            "cut": self._cut,
            "restore": self._restore,
            "clear": self._clear,
            "recovery": self._recovery,
            "reset": self._reset,
            "version": self._version,
            "requests": lambda body: {"ok": True, "requests": self.gw.request_log.since(body.get("since"))},
            "clear_requests": self._clear_requests,
            "in_flight": lambda body: {"ok": True, "requests": self.gw.request_log.in_flight()},
        }

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        action = self.actions.get(str(body.get("action")))
        if action is None:
            raise ApiError(400, f"unknown control action {body.get('action')!r}")
        return action(body)

    def _status(self, body: dict[str, Any]) -> dict[str, Any]:
        gw = self.gw
        recovery = gw.bao.recovery
        return {"running": True, "recovery": recovery, "sealed": gw.bao.sealed(), "dr_mode": gw.store.mode,
                "dr": gw.dr_status() if not recovery else None, **gw.faults.describe(),
                "unseal_keys_b64": gw.store.unseal_keys(),
                "op_generation_requires_token": gw.settings.op_generation_requires_token,
                "version": gw.reported_version(), "real_version": gw.bao.version(), "version_override": gw.version_override()}

    def _fault(self, body: dict[str, Any]) -> dict[str, Any]:
        count = int(body.get("count", 1))
        if count == 0:
            return {"ok": True}
        path = body.get("path") or "*"
        method = body.get("method") or ""
        if body.get("drop_answer"):
            self.gw.faults.add({"path": path, "drop_answer": True, "count": count, "method": method})
            return {"ok": True}
        if body.get("redirect"):
            self.gw.faults.add({"path": path, "redirect": str(body["redirect"]).rstrip("/"), "count": count,
                                "method": method, "status": int(body.get("status") or 307)})
            return {"ok": True}
        status = int(body["status"])
        if body.get("after_acting"):
            self.gw.faults.add({"path": path, "after_acting": True, "status": status, "count": count, "method": method})
            return {"ok": True}
        self.gw.faults.add({"path": path, "status": status, "count": count, "method": method,
                            "message": body.get("message") or fault_message(status)})
        return {"ok": True}

    def _latency(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.faults.set_latency(float(body.get("seconds", 0)), body.get("path") or "", count=int(body.get("count", -1)),
                                   method=str(body.get("method") or ""))
        return {"ok": True}

    def _op_token_auth(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.settings.op_generation_requires_token = bool(body.get("required"))
        return {"ok": True, "op_generation_requires_token": self.gw.settings.op_generation_requires_token}

    def _cut(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.faults.cut(body["peer"])
        return {"ok": True}

    def _restore(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.faults.restore(body["peer"])
        return {"ok": True}

    def _clear(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.faults.clear()
        return {"ok": True}

    def _recovery(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.bao.set_recovery(bool(body.get("on", True)))
        return {"ok": True, "recovery": self.gw.bao.recovery}

    def _reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.reset()
        return {"ok": True}

    def _version(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("clear"):
            self.gw.set_reported_version("")
        elif body.get("version"):
            self.gw.set_reported_version(str(body["version"]))
        return {"ok": True, "version": self.gw.reported_version(), "real_version": self.gw.bao.version(),
                "version_override": self.gw.version_override()}

    def _clear_requests(self, body: dict[str, Any]) -> dict[str, Any]:
        self.gw.request_log.clear()
        return {"ok": True}
