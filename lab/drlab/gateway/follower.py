"""Replication follower (a secondary's end of the replication channel): a heartbeat every second to the
first reachable known primary cluster address, and a snapshot restore whenever the primary's raft index
differs from the one this secondary serves. Forced only on the first sync of a cluster without the DR set's
data (it carries the primary's keyring), or when OpenBao refuses a normal restore (another key set)."""

from __future__ import annotations

import copy
import os
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

import requests

from ..util import rfc3339

if TYPE_CHECKING:
    from .core import Gateway

HEARTBEAT_INTERVAL = 1.0


class PrimaryContact:
    """What the secondary last heard from its primary (memory only): ``ok``, ``last_heartbeat``, ``index``,
    ``error``, ``addr``. Replaced and read as a whole under its own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data = {}

    def replace(self, **fields: Any) -> None:
        with self._lock:
            self._data = dict(fields)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data = {**self._data, **fields}


def _wants_restore(sec: dict[str, Any], primary_index: int) -> bool:
    """A restore is due: forced or first one from this attachment's primary, or the primary's index moved."""
    return bool(sec.get("needs_force") or sec.get("resync")) or primary_index != int(sec.get("applied_index", 0))


def _errors(r: requests.Response) -> str:
    try:
        return "; ".join(r.json().get("errors") or []) or r.text.strip()[:200]
    except ValueError:
        return r.text.strip()[:200]


class ReplicationFollower:
    def __init__(self, gw: Gateway):
        self.gw = gw
        self.store = gw.store
        self.contact = gw.contact
        self._wakeup = threading.Event()
        self._pull_thread: threading.Thread | None = None

    def wake(self) -> None:
        """Heartbeat now rather than at the next interval (after an enable or update-primary)."""
        self._wakeup.set()

    def _session(self, sec: dict[str, Any]) -> requests.Session:
        ca_path = os.path.join(self.gw.cdir, "primary-ca.pem")
        pem = sec.get("cluster_ca_pem", "")
        try:
            with open(ca_path) as fh:
                same = fh.read() == pem
        except FileNotFoundError:
            same = False
        if not same:
            with open(ca_path, "w") as fh:
                fh.write(pem)
        s = requests.Session()
        s.trust_env = False
        s.verify = ca_path
        s.headers.update({"X-Drlab-Secondary-Id": sec["secondary_id"], "X-Drlab-Credential": sec.get("credential", ""),
                          "X-Drlab-From": self.gw.cfg["cluster_addr"]})
        return s

    def loop(self) -> None:
        while not self.gw.stop_event.is_set():
            self._wakeup.wait(HEARTBEAT_INTERVAL)
            self._wakeup.clear()
            if self.gw.stop_event.is_set():
                return
            try:
                self.sync_once()
            except Exception:  # noqa: BLE001 - keep the loop alive; log it
                traceback.print_exc()

    def sync_once(self) -> None:
        with self.store.locked() as state:
            if state["mode"] != "secondary" or self.gw.bao.recovery:
                return
            sec = copy.deepcopy(state.get("secondary") or {})
            cluster_id = state["cluster_id"]
        addrs = sec.get("primary_cluster_addrs") or []
        if not addrs or not sec.get("secondary_id"):
            return
        s = self._session(sec)
        r = None
        error = ""
        addr = ""
        for addr in addrs:  # known primary cluster addresses, in order; the first that answers wins
            if self.gw.faults.is_cut(addr):
                error = "replication link cut (drlab fault)"
                continue
            try:
                r = s.post(addr + "/drlab/repl/heartbeat", json={"api_address": self.gw.cfg["api_addr"],
                                                                 "cluster_address": self.gw.cfg["cluster_addr"],
                                                                 "last_remote_wal": sec.get("applied_index", 0)}, timeout=5)
            except requests.RequestException as exc:
                r = None
                error = f"connection error: {exc.__class__.__name__}"
                continue
            if r.status_code != 200:
                error = f"primary refused: {r.status_code} {r.text.strip()[:200]}"
                r = None
                continue
            break
        if r is None:
            self.contact.update(ok=False, error=error)
            return
        info = r.json()
        if info.get("cluster_id") != cluster_id:
            self.contact.replace(ok=False, last_heartbeat=time.time(), index=info.get("index", 0), addr=addr,
                                 error="primary cluster id changed; the secondary needs a wipe")
            return
        self.contact.replace(ok=True, last_heartbeat=time.time(), index=info.get("index", 0), error="", addr=addr)
        if _wants_restore(sec, int(info.get("index", 0))):
            if self._pull_thread is None or not self._pull_thread.is_alive():
                self._pull_thread = threading.Thread(target=self._pull_guarded, args=(s, addr, sec), daemon=True)
                self._pull_thread.start()

    def _pull_guarded(self, s: requests.Session, addr: str, sec: dict[str, Any]) -> None:
        try:
            self.pull_snapshot(s, addr, sec)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.contact.update(error=f"sync failed: {exc}")

    def _bootstrap(self, s: requests.Session, addr: str) -> dict[str, Any] | None:
        """The primary's unseal keys and service token (None, with the contact's error set, if refused)."""
        b = s.post(addr + "/drlab/repl/bootstrap", timeout=10)
        if b.status_code != 200:
            self.contact.update(ok=False, error=f"bootstrap refused: {b.status_code}")
            return None
        return dict(b.json())

    def pull_snapshot(self, s: requests.Session, addr: str, sec: dict[str, Any]) -> None:
        bao = self.gw.bao
        if not bao.lock.acquire(timeout=0.5):
            return
        try:
            if self.gw.generation.running():
                return  # a key-share ceremony is in progress: a restore would wipe it
            with self.store.locked() as state:
                cur = state.get("secondary") or {}
                if state["mode"] != "secondary" or cur.get("secondary_id") != sec.get("secondary_id"):
                    return
                # decide from the current state (the caller's copy may predate a restore that just finished)
                sec = copy.deepcopy(cur)
            if not _wants_restore(sec, int(self.contact.snapshot().get("index", -1))):
                return
            r = s.get(addr + "/drlab/repl/snapshot", timeout=60)
            if r.status_code != 200:
                self.contact.update(ok=False, error=f"snapshot refused: {r.status_code}")
                return
            index = int(r.headers.get("X-Drlab-Index", "0"))
            t0 = time.time()
            snap = r.content
            before = bao.leader().get("active_time")
            if not before:  # without it the wait below could end before OpenBao serves the restored data
                self.contact.update(error="sync postponed: OpenBao's sys/leader gave no active_time")
                return
            force = bool(sec.get("needs_force"))
            why = "first sync of a cluster without the DR set's data (takes the primary's keyring)" if force else ""
            boot: dict[str, Any] | None = None
            if not force:
                if sec.get("refresh_keys"):  # a new attachment: take the primary's keys and token with this restore
                    boot = self._bootstrap(s, addr)
                    if boot is None:
                        return
                rr = bao.api.req("POST", "sys/storage/raft/snapshot", token=self.store.service_token, data=snap, timeout=60)
                if rr.status_code not in (200, 204):
                    force = True
                    why = f"normal restore refused: {rr.status_code} {_errors(rr)}"
            if force:
                print(f"{rfc3339()} sync: forcing the restore of primary index {index}: {why}", flush=True)
                boot = boot or self._bootstrap(s, addr)
                if boot is None:
                    return
                rr = bao.api.req("POST", "sys/storage/raft/snapshot-force", token=self.store.service_token, data=snap, timeout=60)
                if rr.status_code not in (200, 204):
                    raise RuntimeError(f"forced snapshot restore failed: {rr.status_code} {rr.text}")
            if boot is not None:
                with self.store.edit() as state:
                    state["unseal_keys_b64"] = boot["unseal_keys_b64"]
                    state["unseal_keys_hex"] = boot["unseal_keys_hex"]
                    state["service_token"] = boot["service_token"]
            # OpenBao answers the restore at once and serves the restored data only when it is active again
            # (~5.5 s later): only then does this secondary claim the index
            bao.wait_active(timeout=60, after_active_time=before)
            with self.store.locked() as state:
                cur = state.get("secondary") or {}
                # only if no update-primary (or another attachment) came in while this restore ran
                if state["mode"] == "secondary" and cur.get("attach_id") == sec.get("attach_id") \
                        and cur.get("secondary_id") == sec.get("secondary_id"):
                    cur.update(applied_index=index, applied_from=addr, needs_force=False, syncing_first=False, resync=False,
                               refresh_keys=False)
                    state["has_data"] = True
                    state["secondary"] = cur
                    self.store.save()
            print(f"{rfc3339()} sync: restored primary index {index} (forced={force}) in {time.time() - t0:.1f}s", flush=True)
        finally:
            bao.lock.release()
