"""The gateway of one cluster: its configuration and the parts it is made of, wired together once."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ..util import read_json
from .authz import Authorizer
from .control import ControlApi, Faults, RequestLog
from .crypto import JwtSigner
from .follower import PrimaryContact, ReplicationFollower
from .generation import GenerationProxy
from .openbao import OpenBao
from .operations import DrOperations
from .source import ReplicationSource
from .state import Settings, StateStore, fresh_state
from .status import health_mode, render_dr_status


class Gateway:
    """Owns the cluster's OpenBao process, the DR state and every part that answers requests.

    Locks: ``store.lock`` guards the DR state; ``bao.lock`` serialises whatever swaps OpenBao's data or process
    (restores, restarts, token-generation steps) and is always taken before ``store.lock``. Faults, the request
    log and the primary contact have their own small locks.
    """

    def __init__(self, directory: str, name: str):
        self.dir = os.path.abspath(directory)
        self.name = name
        self.cdir = os.path.join(self.dir, name)
        cfg = read_json(os.path.join(self.cdir, "cluster.json"))
        if not cfg:
            raise SystemExit(f"no cluster.json for {name} in {self.dir}")
        self.cfg: dict[str, Any] = cfg
        self.settings = Settings.load(self.dir)
        self.store = StateStore(os.path.join(self.cdir, "dr_state.json"))
        self.bao = OpenBao(cfg, self.cdir, self.store)
        self.signer = JwtSigner(cfg["tls_key"])
        self.authz = Authorizer(self.bao, self.store, self.settings)
        self.stop_event = threading.Event()
        self.faults = Faults()
        self.request_log = RequestLog()
        self.contact = PrimaryContact()
        self.follower = ReplicationFollower(self)
        self.source = ReplicationSource(self)
        self.generation = GenerationProxy(self)
        self.ops = DrOperations(self)
        self.control = ControlApi(self)

    # ------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Wipe OpenBao's data and the DR state, re-initialise (new keys and root token); forget faults and the log."""
        with self.bao.lock:
            self.bao.wipe()
            self.store.replace(fresh_state())
            self.faults.clear()
            self.request_log.clear()
            self.contact.clear()
            self.bao.bootstrap()

    # ------------------------------------------------------------ status
    def dr_status(self) -> dict[str, Any]:
        state = self.store.snapshot()
        index = self.bao.committed_index() if state["mode"] == "primary" else 0
        return render_dr_status(state, self.contact.snapshot(), index, time.time())

    def health_mode(self) -> str:
        return health_mode(self.store.snapshot())

    # ------------------------------------------------------------ reported version
    def version_override(self) -> str:
        return str(self.store.get("reported_version") or "")

    def reported_version(self) -> str:
        return self.version_override() or self.bao.version()

    def set_reported_version(self, version: str) -> None:
        with self.store.edit() as state:
            state["reported_version"] = version or ""
