"""The lab's test knobs (a mixin of ``Lab``): injected faults, lost answers, latency, cut replication links,
the reported version, and the request log / write counter of each cluster's API address."""

from __future__ import annotations

import os
from typing import Any

from .util import LabError, atomic_write_json, read_json

# state-changing HTTP methods (LIST, and GET with ?list=true, are reads)
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def _norm_path(path: str) -> str:
    """Fault paths are matched without the /v1/ prefix: accept "/v1/sys/health", "v1/sys/health" or "sys/health"."""
    path = (path or "").lstrip("/")
    return path[3:] if path.startswith("v1/") else path


class Knobs:
    """Mixed into ``Lab``, which provides the directory, the cluster list and the control channel."""

    dir: str

    def names(self) -> list[str]:
        raise NotImplementedError

    def _check(self, name: str) -> None:
        raise NotImplementedError

    def _gateway_alive(self, name: str) -> bool:
        raise NotImplementedError

    def _cluster_cfg(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _control(self, name: str, body: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        raise NotImplementedError

    def _running(self, name: str | None) -> list[str]:
        return [name] if name else [n for n in self.names() if self._gateway_alive(n)]

    # ------------------------------------------------------------ faults
    def fault(self, name: str, path: str = "*", status: int = 503, count: int = 1, method: str = "", message: str = "",
              drop_answer: bool = False, after_acting: bool = False) -> dict[str, Any]:
        """Answer the next ``count`` requests matching ``path`` (glob, without /v1/; -1 = forever) with ``status``.

        ``drop_answer``: instead, process each matching request fully (the DR operation or OpenBao's work takes
        effect) and then close the client's connection without sending any HTTP response (a lost answer).
        ``after_acting``: process each matching request fully, then answer ``status`` with a load balancer's HTML
        page instead of Vault's answer (no Vault ``errors`` body: the client cannot tell whether Vault acted).
        """
        if drop_answer:
            return self._control(name, {"action": "fault", "path": _norm_path(path) or "*", "drop_answer": True,
                                        "count": int(count), "method": method})
        return self._control(name, {"action": "fault", "path": _norm_path(path) or "*", "status": int(status), "count": int(count),
                                    "method": method, "message": message, "after_acting": bool(after_acting)})

    def redirect(self, name: str, location: str, path: str = "*", count: int = 1, method: str = "",
                 status: int = 307) -> dict[str, Any]:
        """Answer the next ``count`` requests matching ``path`` with ``status`` (307) and ``Location`` =
        ``location`` (a base URL such as ``https://127.0.0.1:9999``) + the request's own path and query; the request
        is not processed. A test points it at a listener it owns to see what a client sends there."""
        return self._control(name, {"action": "fault", "path": _norm_path(path) or "*", "redirect": location,
                                    "count": int(count), "method": method, "status": int(status)})

    def latency(self, name: str, seconds: float, path: str | None = None, count: int = -1, method: str = "") -> dict[str, Any]:
        """Add ``seconds`` of latency to requests (matching ``path`` and ``method`` if given); 0 removes it. The
        gateway waits before it processes the request, and processes it even if the client gave up meanwhile.
        ``count``: only the next ``count`` matching requests wait (-1: every one until removed)."""
        return self._control(name, {"action": "latency", "seconds": float(seconds), "path": _norm_path(path or ""),
                                    "count": int(count), "method": method})

    def cut_link(self, a: str, b: str) -> None:
        """Cut the replication link between clusters a and b (their APIs stay up)."""
        ca, cb = self._cluster_cfg(a), self._cluster_cfg(b)
        self._control(a, {"action": "cut", "peer": cb["cluster_addr"]})
        self._control(b, {"action": "cut", "peer": ca["cluster_addr"]})

    def restore_link(self, a: str, b: str) -> None:
        ca, cb = self._cluster_cfg(a), self._cluster_cfg(b)
        self._control(a, {"action": "restore", "peer": cb["cluster_addr"]})
        self._control(b, {"action": "restore", "peer": ca["cluster_addr"]})

    def clear_faults(self, name: str) -> dict[str, Any]:
        return self._control(name, {"action": "clear"})

    # ------------------------------------------------------------ reported version
    def set_version(self, name: str, version: str | None) -> dict[str, Any]:
        """Report ``version`` (e.g. "1.15.0") in ``sys/seal-status`` and ``sys/health`` of cluster ``name``;
        None or "" goes back to OpenBao's own version. Kept in the cluster's dr_state.json (survives stop/start;
        ``reset`` clears it). Works on a stopped cluster too."""
        self._check(name)
        if self._gateway_alive(name):
            body: dict[str, Any] = {"action": "version", "version": version} if version else {"action": "version", "clear": True}
            return self._control(name, body)
        path = os.path.join(self.dir, name, "dr_state.json")
        state = read_json(path)
        if not state:
            raise LabError(f"{name}: not running and no DR state on disk yet; start it first")
        state["reported_version"] = version or ""
        atomic_write_json(path, state)
        return {"ok": True, "version_override": version or ""}

    def version(self, name: str) -> str:
        """The version cluster ``name`` reports (the override, else OpenBao's own)."""
        self._check(name)
        if self._gateway_alive(name):
            return str(self._control(name, {"action": "version"}, timeout=10)["version"])
        override = (read_json(os.path.join(self.dir, name, "dr_state.json"), {}) or {}).get("reported_version") or ""
        if not override:
            raise LabError(f"{name}: not running (its OpenBao version is only known while it runs)")
        return str(override)

    # ------------------------------------------------------------ request log
    def requests(self, name: str, since: float | None = None) -> list[dict[str, Any]]:
        """Requests clients sent to cluster ``name``'s API address (oldest first, the last 5000, in the gateway's
        memory): dicts with ``method``, ``path`` (without /v1/), ``query``, ``status`` (HTTP status answered; for a
        dropped answer the one that would have been sent), ``answered`` (False for a drop_answer fault), ``time``
        (time.time() at arrival), ``duration``, ``cluster``. ``since``: only entries with time >= since.
        Not logged: the control channel and the replication traffic on the cluster address."""
        out: list[dict[str, Any]] = self._control(name, {"action": "requests", "since": since}, timeout=30)["requests"]
        for e in out:
            e["cluster"] = name
        return out

    def writes(self, name: str | None = None, since: float | None = None) -> list[dict[str, Any]]:
        """The state-changing requests (POST, PUT, DELETE, PATCH; a GET, even ?list=true, or LIST is never one)
        of cluster ``name``, or of every running cluster (one list, by time) when ``name`` is None."""
        out = [e for n in self._running(name) for e in self.requests(n, since) if e["method"].upper() in WRITE_METHODS]
        return sorted(out, key=lambda e: float(e["time"]))

    def in_flight(self, name: str) -> list[dict[str, Any]]:
        """Requests cluster ``name``'s API address has received and not answered yet (``method``, ``path``,
        ``time``; oldest first): with a latency armed, a test sees a step's request in flight and can stop the
        cluster or kill the client in the middle of it."""
        out: list[dict[str, Any]] = self._control(name, {"action": "in_flight"}, timeout=10)["requests"]
        for e in out:
            e["cluster"] = name
        return out

    def clear_requests(self, name: str | None = None) -> None:
        """Forget the request log of cluster ``name`` (every running cluster when None)."""
        for n in self._running(name):
            self._control(n, {"action": "clear_requests"}, timeout=30)
