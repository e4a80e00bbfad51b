"""Supervision of the cluster's own OpenBao server process: start (normal or recovery), initialise, unseal,
wait until active, wipe. ``lock`` serialises everything that swaps OpenBao's data or process (starts, stops,
snapshot restores, token-generation steps)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any

import requests

from ..util import SHARES, THRESHOLD, Bao, atomic_write_json
from .state import StateStore, fresh_state


class OpenBao:
    def __init__(self, cfg: dict[str, Any], cdir: str, store: StateStore):
        self.cfg = cfg
        self.cdir = cdir
        self.store = store
        self.api = Bao(cfg["bao_addr"], cfg["ca_cert"])
        self.lock = threading.RLock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.recovery = False
        self._version = ""

    # ------------------------------------------------------------ process
    def _cmd(self, recovery: bool) -> list[str]:
        cmd = [self.cfg["bao_binary"], "server", f"-config={self.cfg['bao_config']}"]
        if recovery:
            cmd.append("-recovery")
        return cmd

    def start(self, recovery: bool = False) -> None:
        self._version = ""
        log = open(os.path.join(self.cdir, "bao-recovery.log" if recovery else "bao.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(self._cmd(recovery), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # noqa: S603
        log.close()
        with open(os.path.join(self.cdir, "bao.pid"), "w") as fh:
            fh.write(str(self.proc.pid))
        self.recovery = recovery
        deadline = time.time() + 30
        probe = "sys/generate-recovery-token/attempt" if recovery else "sys/seal-status"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"OpenBao exited with {self.proc.returncode}; see {self.cdir}/bao.log")
            try:
                if self.api.req("GET", probe, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("OpenBao did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    # ------------------------------------------------------------ seal / leader
    def unseal(self, keys: list[str]) -> None:
        for k in keys[:THRESHOLD]:
            r = self.api.req("POST", "sys/unseal", json_body={"key": k})
            if r.status_code != 200:
                raise RuntimeError(f"unseal failed: {r.status_code} {r.text}")
            if not r.json().get("sealed", True):
                break

    def leader(self) -> dict[str, Any]:
        r = self.api.req("GET", "sys/leader", timeout=5)
        return r.json() if r.status_code == 200 else {}

    def committed_index(self) -> int:
        """OpenBao's raft committed index (what the lab's WAL indexes are derived from); 0 if it does not answer."""
        try:
            return int(self.leader().get("raft_committed_index", 0))
        except (requests.RequestException, ValueError):
            return 0

    def applied_index(self) -> int:
        """OpenBao's raft applied index: every entry up to it is in the FSM, so a raft snapshot taken after reading
        it holds at least that data (the committed index may run ahead of it: committed, not applied yet)."""
        try:
            leader = self.leader()
            return int(leader.get("raft_applied_index", leader.get("raft_committed_index", 0)))
        except (requests.RequestException, ValueError):
            return 0

    def sealed(self) -> bool | None:
        if self.recovery:
            return None
        try:
            sealed = self.api.req("GET", "sys/seal-status", timeout=3).json().get("sealed")
        except (requests.RequestException, ValueError):
            return None
        return None if sealed is None else bool(sealed)

    def version(self) -> str:
        """OpenBao's own version (asked once per start; '' while it does not answer or in recovery mode)."""
        if not self._version and not self.recovery:
            try:
                self._version = str(self.api.req("GET", "sys/seal-status", timeout=3).json().get("version") or "")
            except (requests.RequestException, ValueError):
                pass
        return self._version

    def wait_active(self, timeout: float = 60, after_active_time: str | None = None) -> None:
        """Until OpenBao is active (unsealing it with the state's keys if it is sealed); with
        ``after_active_time``: until it became active again after that time (a snapshot restore)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = self.api.req("GET", "sys/health", timeout=3)
                if r.status_code == 200:
                    if after_active_time is None:
                        return
                    now_active = self.leader().get("active_time")
                    if now_active and now_active != after_active_time:
                        return
                elif r.status_code == 503 and r.json().get("sealed") and self.store.unseal_keys():
                    self.unseal(self.store.unseal_keys())
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("OpenBao did not become active")

    # ------------------------------------------------------------ lifecycle
    def bootstrap(self) -> None:
        """Start OpenBao normally; initialise (5 shares / 3) on first start; unseal; wait active."""
        with self.lock:
            self.start(False)
            st = self.api.req("GET", "sys/seal-status").json()
            if st.get("initialized"):
                if st.get("sealed"):
                    self.unseal(self.store.unseal_keys())
                self.wait_active()
                return
            r = self.api.req("POST", "sys/init", json_body={"secret_shares": SHARES, "secret_threshold": THRESHOLD})
            r.raise_for_status()
            init = r.json()
            atomic_write_json(os.path.join(self.cdir, "init.json"),
                              {"unseal_keys_b64": init["keys_base64"], "unseal_keys_hex": init["keys"], "root_token": init["root_token"]})
            with self.store.edit() as state:
                state.update(fresh_state())
                state["unseal_keys_b64"] = init["keys_base64"]
                state["unseal_keys_hex"] = init["keys"]
            self.unseal(init["keys_base64"])
            self.wait_active()
            r = self.api.req("POST", "auth/token/create-orphan", token=init["root_token"],
                             json_body={"policies": ["root"], "display_name": "drlab-gateway", "no_default_policy": True})
            r.raise_for_status()
            with self.store.edit() as state:
                state["service_token"] = r.json()["auth"]["client_token"]

    def wipe(self) -> None:
        """Stop OpenBao and delete its raft data (the caller bootstraps it again)."""
        with self.lock:
            self.stop()
            for root, dirs, files in os.walk(self.cfg["raft_dir"], topdown=False):
                for f in files:
                    os.unlink(os.path.join(root, f))
                for d in dirs:
                    os.rmdir(os.path.join(root, d))

    def set_recovery(self, on: bool) -> None:
        """Restart OpenBao in recovery mode (``on``) or normally (unsealed, active)."""
        with self.lock:
            if on == self.recovery:
                return
            self.stop()
            if on:
                self.start(True)
                return
            self.start(False)
            st = self.api.req("GET", "sys/seal-status").json()
            if st.get("sealed"):
                self.unseal(self.store.unseal_keys())
            self.wait_active()
