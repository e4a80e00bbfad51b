"""The gateway's persisted DR state (``dr_state.json``) and the lab-wide settings it reads at start.

Every read and write of the DR state goes through one ``StateStore`` and its lock; readers get deep copies
(``snapshot``), writers hold the lock (``edit`` saves at the end, ``locked`` leaves saving to the caller).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..util import atomic_write_json, read_json
from .messages import NOT_PRIMARY, NOT_SECONDARY, ApiError

State = dict[str, Any]


def require_secondary(state: State) -> None:
    if state["mode"] != "secondary":
        raise ApiError(400, NOT_SECONDARY)


def require_primary(state: State) -> None:
    if state["mode"] != "primary":
        raise ApiError(400, NOT_PRIMARY)


def fresh_state() -> State:
    """A cluster with DR replication disabled and nothing learnt yet."""
    return {
        "mode": "disabled",
        "cluster_id": "",
        "primary_cluster_addr": "",
        "known_secondaries": {},
        "secondary": None,
        "op_tokens": [],
        "public_key_private": "",
        "has_data": True,
        "unseal_keys_b64": [],
        "unseal_keys_hex": [],
        "service_token": "",
        "last_start": "",
        "reported_version": "",
    }


class StateStore:
    """``dr_state.json``: loaded once, changed under ``lock``, written atomically (0600)."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.RLock()
        self._state: State = read_json(path) or fresh_state()

    def snapshot(self) -> State:
        """A deep copy of the whole state (safe to read without the lock)."""
        with self.lock:
            return copy.deepcopy(self._state)

    def get(self, key: str, default: Any = None) -> Any:
        """A deep copy of one key."""
        with self.lock:
            return copy.deepcopy(self._state.get(key, default))

    @property
    def mode(self) -> str:
        with self.lock:
            return str(self._state["mode"])

    @property
    def service_token(self) -> str:
        with self.lock:
            return str(self._state.get("service_token") or "")

    def unseal_keys(self) -> list[str]:
        with self.lock:
            return list(self._state.get("unseal_keys_b64") or [])

    @contextmanager
    def locked(self) -> Iterator[State]:
        """The live state under the lock; the caller saves (``save``) if it changed something."""
        with self.lock:
            yield self._state

    @contextmanager
    def edit(self) -> Iterator[State]:
        """The live state under the lock, saved when the block ends without an exception."""
        with self.lock:
            yield self._state
            self.save()

    def save(self) -> None:
        with self.lock:
            atomic_write_json(self.path, self._state)

    def replace(self, state: State) -> None:
        with self.lock:
            self._state = state
            self.save()


@dataclass
class Settings:
    """Lab-wide settings from ``lab-config.json`` (read at start; the control channel updates them)."""

    secret: str = ""
    # Vault 2.x (and 1.19.17): generate-operation-token wants a Vault token; off = the older unauthenticated endpoints
    op_generation_requires_token: bool = False

    @classmethod
    def load(cls, lab_dir: str) -> Settings:
        cfg = read_json(os.path.join(lab_dir, "lab-config.json"), {}) or {}
        return cls(secret=str(cfg.get("secret", "")), op_generation_requires_token=bool(cfg.get("op_generation_requires_token", False)))
