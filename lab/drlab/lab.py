"""Lab controller: starts/stops the per-cluster gateways (which own their OpenBao) and writes lab.json/inventory."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

from . import pki
from .knobs import Knobs
from .util import LabError, atomic_write_json, atomic_write_text, find_bao, read_json

__all__ = ["Cluster", "Lab", "LabError", "port_free"]

DEFAULT_BASE_PORT = 18200
MAX_CLUSTERS = 5
NAMES = string.ascii_lowercase[:MAX_CLUSTERS]


@dataclass
class Cluster:
    name: str
    api_addr: str
    cluster_addr: str
    bao_addr: str
    bao_cluster_addr: str
    ca_cert: str
    root_token: str = ""
    unseal_keys_b64: list[str] = field(default_factory=list)
    unseal_keys_hex: list[str] = field(default_factory=list)
    dir: str = ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _read_pid(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


BAO_HCL = """\
ui = false
api_addr = "{api_addr}"
cluster_addr = "{bao_cluster_addr}"
raw_storage_endpoint = true
log_level = "warn"

storage "raft" {{
  path = "{raft_dir}"
  node_id = "drlab-{name}"
  performance_multiplier = 1
}}

listener "tcp" {{
  address = "127.0.0.1:{bao_port}"
  cluster_address = "127.0.0.1:{bao_cluster_port}"
  tls_cert_file = "{tls_cert}"
  tls_key_file = "{tls_key}"
  disable_unauthed_generate_root_endpoints = false
}}
"""


def _in_parallel(fn: Callable[[str], object], names: Iterable[str]) -> None:
    """Run fn(name) for every cluster at once; raise one LabError naming each that failed."""
    errors: dict[str, str] = {}

    def run(name: str) -> None:
        try:
            fn(name)
        except Exception as exc:  # noqa: BLE001 - reported below, per cluster
            errors[name] = str(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise LabError("; ".join(f"{k}: {v}" for k, v in errors.items()))


class Lab(Knobs):
    """A local DR lab in one directory (``$DRLAB_DIR`` or ``./.drlab`` by default)."""

    def __init__(self, directory: str | None = None):
        self.dir = os.path.abspath(directory or os.environ.get("DRLAB_DIR") or ".drlab")
        self.config_path = os.path.join(self.dir, "lab-config.json")
        self.json_path = os.path.join(self.dir, "lab.json")
        self._procs: dict[str, subprocess.Popen[bytes]] = {}  # gateways started here, kept so they are reaped

    # ------------------------------------------------------------ config
    def _config(self) -> dict[str, Any]:
        return read_json(self.config_path, {}) or {}

    def names(self) -> list[str]:
        return list(self._config().get("clusters", []))

    def _ports(self, base: int, i: int) -> dict[str, int]:
        p = base + 10 * i
        return {"api_port": p, "cluster_port": p + 1, "bao_port": p + 2, "bao_cluster_port": p + 3}

    def _cluster_cfg(self, name: str) -> dict[str, Any]:
        return read_json(os.path.join(self.dir, name, "cluster.json"), {}) or {}

    # ------------------------------------------------------------ up / down
    def up(self, clusters: int | None = None, base_port: int | None = None, timeout: float = 90,
           op_generation_requires_token: bool | None = None) -> dict[str, Any]:
        """Start (or complete) the lab; idempotent. Returns the lab.json content.

        ``op_generation_requires_token``: emulate Vault 2.x, whose generate-operation-token endpoints want a Vault
        token (see `set_op_generation_requires_token`); None keeps the lab's setting (off for a new lab).
        """
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        cfg = self._config()
        existing = cfg.get("clusters", [])
        n = clusters if clusters is not None else max(len(existing), 1)
        if not 1 <= n <= MAX_CLUSTERS:
            raise LabError(f"clusters must be between 1 and {MAX_CLUSTERS}")
        if base_port is not None and cfg.get("base_port") not in (None, base_port) and existing:
            raise LabError(f"this lab already uses base port {cfg['base_port']}; run `drlab down --purge` first to change it")
        base = cfg.get("base_port") or base_port or DEFAULT_BASE_PORT
        names = list(existing)
        for name in NAMES[:n]:
            if name not in names:
                names.append(name)
        cfg.update({"base_port": base, "clusters": names, "secret": cfg.get("secret") or secrets.token_hex(24)})
        if op_generation_requires_token is not None:
            cfg["op_generation_requires_token"] = bool(op_generation_requires_token)
        if "bao_binary" not in cfg or not os.path.exists(cfg["bao_binary"]):
            cfg["bao_binary"] = find_bao()
        atomic_write_json(self.config_path, cfg)
        ca_cert, ca_key = pki.ensure_ca(self.dir)
        for i, name in enumerate(NAMES[:MAX_CLUSTERS]):
            if name not in names:
                continue
            self._prepare(name, i, base, ca_cert, ca_key, cfg["bao_binary"])
        to_start = [name for name in names if not self._gateway_alive(name)]
        for name in to_start:
            c = self._cluster_cfg(name)
            busy = [p for p in (c["api_port"], c["cluster_port"], c["bao_port"], c["bao_cluster_port"]) if not port_free(p)]
            if busy:
                self._kill_leftover_bao(name)
                busy = [p for p in busy if not port_free(p)]
            if busy:
                raise LabError(f"cluster {name}: port(s) {busy} on 127.0.0.1 are in use (another lab? use --base-port)")
        _in_parallel(lambda name: self._start_one(name, timeout), to_start)
        if op_generation_requires_token is not None:  # gateways already running read the config at their start
            self._push_op_generation_setting([name for name in names if name not in to_start])
        return self._write_outputs()

    def _prepare(self, name: str, i: int, base: int, ca_cert: str, ca_key: str, bao_binary: str) -> None:
        cdir = os.path.join(self.dir, name)
        os.makedirs(os.path.join(cdir, "raft"), exist_ok=True)
        os.chmod(cdir, 0o700)
        tls_cert, tls_key = pki.ensure_server_cert(cdir, ca_cert, ca_key, name)
        ports = self._ports(base, i)
        c: dict[str, Any] = {
            "name": name, **ports, "ca_cert": ca_cert, "tls_cert": tls_cert, "tls_key": tls_key,
            "api_addr": f"https://127.0.0.1:{ports['api_port']}", "cluster_addr": f"https://127.0.0.1:{ports['cluster_port']}",
            "bao_addr": f"https://127.0.0.1:{ports['bao_port']}", "bao_cluster_addr": f"https://127.0.0.1:{ports['bao_cluster_port']}",
            "raft_dir": os.path.join(cdir, "raft"), "bao_config": os.path.join(cdir, "bao.hcl"), "bao_binary": bao_binary,
        }
        atomic_write_json(os.path.join(cdir, "cluster.json"), c)
        atomic_write_text(c["bao_config"], BAO_HCL.format(**c))

    def _gateway_alive(self, name: str) -> bool:
        pid = _read_pid(os.path.join(self.dir, name, "gateway.pid"))
        if not pid or not _pid_alive(pid):
            return False
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                return b"drlab.gateway" in fh.read()
        except OSError:
            return False

    def _start_one(self, name: str, timeout: float) -> None:
        self._spawn(name)
        self._wait_ready(name, timeout)

    def _spawn(self, name: str) -> None:
        cdir = os.path.join(self.dir, name)
        self._kill_leftover_bao(name)
        ready = os.path.join(cdir, "gateway.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        log = open(os.path.join(cdir, "gateway.log"), "ab")  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "drlab.gateway", "--dir", self.dir, "--name", name],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=cdir, env=env,
        )
        log.close()
        with open(os.path.join(cdir, "gateway.pid"), "w") as fh:
            fh.write(str(proc.pid))
        self._procs[name] = proc  # keeps Popen around so the child is reaped

    def _wait_ready(self, name: str, timeout: float) -> None:
        cdir = os.path.join(self.dir, name)
        pid = _read_pid(os.path.join(cdir, "gateway.pid"))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(os.path.join(cdir, "gateway.ready")):
                return
            proc = self._procs.get(name)
            if (proc is not None and proc.poll() is not None) or (pid and not _pid_alive(pid)):
                raise LabError(f"gateway exited; see {cdir}/gateway.log and bao.log:\n{self._tail(os.path.join(cdir, 'gateway.log'))}")
            time.sleep(0.1)
        raise LabError(f"cluster {name} did not become ready within {timeout}s; see {cdir}/gateway.log")

    @staticmethod
    def _tail(path: str, n: int = 15) -> str:
        try:
            with open(path, errors="replace") as fh:
                return "".join(fh.readlines()[-n:])
        except OSError:
            return ""

    def _kill_leftover_bao(self, name: str) -> None:
        pid = _read_pid(os.path.join(self.dir, name, "bao.pid"))
        if pid and _pid_alive(pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if b"bao" not in fh.read():
                        return
            except OSError:
                return
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _pid_alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)

    def _stop_one(self, name: str) -> None:
        cdir = os.path.join(self.dir, name)
        pid = _read_pid(os.path.join(cdir, "gateway.pid"))
        if pid and self._gateway_alive(name):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.time() + 20
            while time.time() < deadline and _pid_alive(pid):
                proc = self._procs.get(name)
                if proc is not None:
                    proc.poll()
                time.sleep(0.1)
            if _pid_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._kill_leftover_bao(name)
        for f in ("gateway.pid", "gateway.ready", "bao.pid"):
            try:
                os.unlink(os.path.join(cdir, f))
            except FileNotFoundError:
                pass
        proc = self._procs.pop(name, None)
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def down(self, purge: bool = False) -> None:
        """Stop every process of the lab (safe to call twice). ``purge`` also deletes the lab directory."""
        _in_parallel(self._stop_one, self.names())
        if purge and os.path.isdir(self.dir):
            shutil.rmtree(self.dir)

    def stop(self, name: str) -> None:
        """A site outage: API and cluster ports go away; data and DR state stay on disk."""
        self._check(name)
        self._stop_one(name)

    def start(self, name: str, timeout: float = 90) -> None:
        self._check(name)
        if not self._gateway_alive(name):
            _in_parallel(lambda n: self._start_one(n, timeout), [name])
        self._write_outputs()

    def _check(self, name: str) -> None:
        if name not in self.names():
            raise LabError(f"no cluster named {name!r} in {self.dir}")

    # ------------------------------------------------------------ outputs
    def _write_outputs(self) -> dict[str, Any]:
        cfg = self._config()
        ca = os.path.join(self.dir, "ca.pem")
        clusters: dict[str, dict[str, Any]] = {}
        out: dict[str, Any] = {"ca_cert": ca, "base_port": cfg.get("base_port"), "dir": self.dir, "control_secret": cfg.get("secret"), "clusters": clusters}
        for name in cfg.get("clusters", []):
            c = self._cluster_cfg(name)
            init = read_json(os.path.join(self.dir, name, "init.json"), {}) or {}
            clusters[name] = {
                "name": name, "api_addr": c.get("api_addr"), "cluster_addr": c.get("cluster_addr"), "bao_addr": c.get("bao_addr"),
                "bao_cluster_addr": c.get("bao_cluster_addr"), "ca_cert": ca, "unseal_keys_b64": init.get("unseal_keys_b64", []),
                "unseal_keys_hex": init.get("unseal_keys_hex", []), "root_token": init.get("root_token", ""),
                "dir": os.path.join(self.dir, name),
            }
        atomic_write_json(self.json_path, out, 0o600)
        lines = ["# written by drlab; no secrets here (they are in lab.json)", "all:", "  children:", "    vault_clusters:", "      hosts:"]
        for name, c in clusters.items():
            lines += [f"        {name}:", f"          vault_addr: \"{c['api_addr']}\"", f"          vault_cluster_addr: \"{c['cluster_addr']}\"",
                      f"          vault_ca_cert: \"{ca}\"", "          ansible_connection: local",
                      "          ansible_python_interpreter: \"{{ ansible_playbook_python }}\""]
        atomic_write_text(os.path.join(self.dir, "inventory.yml"), "\n".join(lines) + "\n")
        return out

    def info(self) -> dict[str, Any]:
        return read_json(self.json_path, {}) or {}

    def cluster(self, name: str) -> Cluster:
        self._check(name)
        c = self._write_outputs()["clusters"][name]
        return Cluster(name=name, api_addr=c["api_addr"], cluster_addr=c["cluster_addr"], bao_addr=c["bao_addr"],
                       bao_cluster_addr=c["bao_cluster_addr"], ca_cert=c["ca_cert"], root_token=c["root_token"],
                       unseal_keys_b64=list(c["unseal_keys_b64"]), unseal_keys_hex=list(c["unseal_keys_hex"]), dir=c["dir"])

    # ------------------------------------------------------------ control
    def _control(self, name: str, body: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        self._check(name)
        c = self._cluster_cfg(name)
        try:
            r = requests.post(c["api_addr"] + "/drlab/control", json=body, headers={"X-Drlab-Secret": self._config()["secret"]},
                              verify=c["ca_cert"], timeout=timeout)
        except requests.RequestException as exc:
            raise LabError(f"{name}: the gateway does not answer ({exc.__class__.__name__}); is the cluster stopped? "
                           f"(`drlab start {name}`)") from exc
        if r.status_code != 200:
            raise LabError(f"{name}: control {body.get('action')} failed: {r.status_code} {r.text}")
        answer: dict[str, Any] = r.json()
        return answer

    def status(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in self.names():
            c = self._cluster_cfg(name)
            entry = {"running": False, "sealed": None, "dr_mode": None, "recovery": False, "api_addr": c.get("api_addr")}
            if self._gateway_alive(name):
                try:
                    st = self._control(name, {"action": "status"}, timeout=10)
                    entry.update({"running": True, "sealed": st["sealed"], "dr_mode": st["dr_mode"], "recovery": st["recovery"],
                                  "dr": st.get("dr"), "faults": st.get("faults"), "latency": st.get("latency"),
                                  "cut_links": st.get("cut_links"), "op_generation_requires_token": st.get("op_generation_requires_token"),
                                  "version": st.get("version"), "real_version": st.get("real_version"),
                                  "version_override": st.get("version_override")})
                except (requests.RequestException, LabError) as exc:
                    entry["error"] = str(exc)
            out[name] = entry
        return out

    def recovery(self, name: str, on: bool = True) -> dict[str, Any]:
        """Restart the cluster's OpenBao in recovery mode (``on=False``: back to normal, unsealed)."""
        return self._control(name, {"action": "recovery", "on": bool(on)})

    def op_generation_requires_token(self) -> bool:
        """Whether the lab emulates Vault 2.x on generate-operation-token (a Vault token required)."""
        return bool(self._config().get("op_generation_requires_token", False))

    def set_op_generation_requires_token(self, on: bool = True) -> None:
        """Emulate Vault 2.x (``on``): the DR secondaries' generate-operation-token endpoints (attempt GET/PUT/DELETE,
        update) answer 403 without a valid Vault token; off = pre-2.0, no token needed. Lab-wide: kept in the lab
        config (survives stop/start, applies to clusters added later) and pushed to every running gateway."""
        cfg = self._config()
        if not cfg:
            raise LabError(f"no lab in {self.dir}; run `drlab up` first")
        cfg["op_generation_requires_token"] = bool(on)
        atomic_write_json(self.config_path, cfg)
        self._push_op_generation_setting(self.names())

    def _push_op_generation_setting(self, names: Iterable[str]) -> None:
        on = self.op_generation_requires_token()
        running = [n for n in names if self._gateway_alive(n)]
        _in_parallel(lambda n: self._control(n, {"action": "op_token_auth", "required": on}, timeout=30), running)

    def reset(self, timeout: float = 120) -> dict[str, Any]:
        """Put every cluster back to a fresh state: DR disabled, data wiped, new keys/root token, unsealed."""
        names = self.names()

        def one(n: str) -> None:
            if self._gateway_alive(n):
                self._control(n, {"action": "reset"}, timeout=timeout)
                return
            for f in ("init.json", "dr_state.json"):
                try:
                    os.unlink(os.path.join(self.dir, n, f))
                except FileNotFoundError:
                    pass
            raft = os.path.join(self.dir, n, "raft")
            shutil.rmtree(raft, ignore_errors=True)
            os.makedirs(raft, exist_ok=True)
            self._start_one(n, timeout)

        _in_parallel(one, names)
        return self._write_outputs()
