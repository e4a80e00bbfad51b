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
from dataclasses import dataclass, field

import requests

from . import pki
from .util import atomic_write_json, atomic_write_text, find_bao, read_json

DEFAULT_BASE_PORT = 18200
MAX_CLUSTERS = 5
NAMES = string.ascii_lowercase[:MAX_CLUSTERS]
# state-changing HTTP methods (LIST, and GET with ?list=true, are reads)
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass
class Cluster:
    name: str
    api_addr: str
    cluster_addr: str
    bao_addr: str
    bao_cluster_addr: str
    ca_cert: str
    root_token: str = ""
    unseal_keys_b64: list = field(default_factory=list)
    unseal_keys_hex: list = field(default_factory=list)
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


def _norm_path(path: str) -> str:
    """Fault paths are matched without the /v1/ prefix: accept "/v1/sys/health", "v1/sys/health" or "sys/health"."""
    path = (path or "").lstrip("/")
    return path[3:] if path.startswith("v1/") else path


class LabError(RuntimeError):
    pass


def _in_parallel(fn, names):
    """Run fn(name) for every cluster at once; raise one LabError naming each that failed."""
    errors = {}

    def run(name):
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


class Lab:
    """A local DR lab in one directory (``$DRLAB_DIR`` or ``./.drlab`` by default)."""

    def __init__(self, directory: str | None = None):
        self.dir = os.path.abspath(directory or os.environ.get("DRLAB_DIR") or ".drlab")
        self.config_path = os.path.join(self.dir, "lab-config.json")
        self.json_path = os.path.join(self.dir, "lab.json")

    # ------------------------------------------------------------ config
    def _config(self) -> dict:
        return read_json(self.config_path, {}) or {}

    def names(self) -> list:
        return list(self._config().get("clusters", []))

    def _ports(self, base: int, i: int) -> dict:
        p = base + 10 * i
        return {"api_port": p, "cluster_port": p + 1, "bao_port": p + 2, "bao_cluster_port": p + 3}

    def _cluster_cfg(self, name: str) -> dict:
        return read_json(os.path.join(self.dir, name, "cluster.json"), {}) or {}

    # ------------------------------------------------------------ up / down
    def up(self, clusters: int | None = None, base_port: int | None = None, timeout: float = 90,
           op_generation_requires_token: bool | None = None) -> dict:
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

    def _prepare(self, name, i, base, ca_cert, ca_key, bao_binary):
        cdir = os.path.join(self.dir, name)
        os.makedirs(os.path.join(cdir, "raft"), exist_ok=True)
        os.chmod(cdir, 0o700)
        tls_cert, tls_key = pki.ensure_server_cert(cdir, ca_cert, ca_key, name)
        ports = self._ports(base, i)
        c = {
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

    def _start_one(self, name: str, timeout: float):
        self._spawn(name)
        self._wait_ready(name, timeout)

    def _spawn(self, name: str):
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
        self._procs = getattr(self, "_procs", {})
        self._procs[name] = proc  # keeps Popen around so the child is reaped

    def _wait_ready(self, name: str, timeout: float):
        cdir = os.path.join(self.dir, name)
        pid = _read_pid(os.path.join(cdir, "gateway.pid"))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(os.path.join(cdir, "gateway.ready")):
                return
            proc = getattr(self, "_procs", {}).get(name)
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

    def _kill_leftover_bao(self, name: str):
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

    def _stop_one(self, name: str):
        cdir = os.path.join(self.dir, name)
        pid = _read_pid(os.path.join(cdir, "gateway.pid"))
        if pid and self._gateway_alive(name):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.time() + 20
            while time.time() < deadline and _pid_alive(pid):
                proc = getattr(self, "_procs", {}).get(name)
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
        proc = getattr(self, "_procs", {}).pop(name, None)
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def down(self, purge: bool = False):
        """Stop every process of the lab (safe to call twice). ``purge`` also deletes the lab directory."""
        _in_parallel(self._stop_one, self.names())
        if purge and os.path.isdir(self.dir):
            shutil.rmtree(self.dir)

    def stop(self, name: str):
        """A site outage: API and cluster ports go away; data and DR state stay on disk."""
        self._check(name)
        self._stop_one(name)

    def start(self, name: str, timeout: float = 90):
        self._check(name)
        if not self._gateway_alive(name):
            _in_parallel(lambda n: self._start_one(n, timeout), [name])
        self._write_outputs()

    def _check(self, name: str):
        if name not in self.names():
            raise LabError(f"no cluster named {name!r} in {self.dir}")

    # ------------------------------------------------------------ outputs
    def _write_outputs(self) -> dict:
        cfg = self._config()
        ca = os.path.join(self.dir, "ca.pem")
        out = {"ca_cert": ca, "base_port": cfg.get("base_port"), "dir": self.dir, "control_secret": cfg.get("secret"), "clusters": {}}
        for name in cfg.get("clusters", []):
            c = self._cluster_cfg(name)
            init = read_json(os.path.join(self.dir, name, "init.json"), {}) or {}
            out["clusters"][name] = {
                "name": name, "api_addr": c.get("api_addr"), "cluster_addr": c.get("cluster_addr"), "bao_addr": c.get("bao_addr"),
                "bao_cluster_addr": c.get("bao_cluster_addr"), "ca_cert": ca, "unseal_keys_b64": init.get("unseal_keys_b64", []),
                "unseal_keys_hex": init.get("unseal_keys_hex", []), "root_token": init.get("root_token", ""),
                "dir": os.path.join(self.dir, name),
            }
        atomic_write_json(self.json_path, out, 0o600)
        lines = ["# written by drlab; no secrets here (they are in lab.json)", "all:", "  children:", "    vault_clusters:", "      hosts:"]
        for name, c in out["clusters"].items():
            lines += [f"        {name}:", f"          vault_addr: \"{c['api_addr']}\"", f"          vault_cluster_addr: \"{c['cluster_addr']}\"",
                      f"          vault_ca_cert: \"{ca}\"", "          ansible_connection: local",
                      "          ansible_python_interpreter: \"{{ ansible_playbook_python }}\""]
        atomic_write_text(os.path.join(self.dir, "inventory.yml"), "\n".join(lines) + "\n")
        return out

    def info(self) -> dict:
        return read_json(self.json_path, {}) or {}

    def cluster(self, name: str) -> Cluster:
        self._check(name)
        c = self._write_outputs()["clusters"][name]
        return Cluster(name=name, api_addr=c["api_addr"], cluster_addr=c["cluster_addr"], bao_addr=c["bao_addr"],
                       bao_cluster_addr=c["bao_cluster_addr"], ca_cert=c["ca_cert"], root_token=c["root_token"],
                       unseal_keys_b64=list(c["unseal_keys_b64"]), unseal_keys_hex=list(c["unseal_keys_hex"]), dir=c["dir"])

    # ------------------------------------------------------------ control
    def _control(self, name: str, body: dict, timeout: float = 120) -> dict:
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
        return r.json()

    def status(self) -> dict:
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

    def recovery(self, name: str, on: bool = True):
        """Restart the cluster's OpenBao in recovery mode (``on=False``: back to normal, unsealed)."""
        return self._control(name, {"action": "recovery", "on": bool(on)})

    def fault(self, name: str, path: str = "*", status: int = 503, count: int = 1, method: str = "", message: str = "",
              drop_answer: bool = False):
        """Answer the next ``count`` requests matching ``path`` (glob, without /v1/; -1 = forever) with ``status``.

        ``drop_answer``: instead, process each matching request fully (the DR operation or OpenBao's work takes
        effect) and then close the client's connection without sending any HTTP response (a lost answer).
        """
        if drop_answer:
            return self._control(name, {"action": "fault", "path": _norm_path(path) or "*", "drop_answer": True,
                                        "count": int(count), "method": method})
        return self._control(name, {"action": "fault", "path": _norm_path(path) or "*", "status": int(status), "count": int(count),
                                    "method": method, "message": message})

    # ------------------------------------------------------------ reported version
    def set_version(self, name: str, version: str | None):
        """Report ``version`` (e.g. "1.15.0") in ``sys/seal-status`` and ``sys/health`` of cluster ``name``;
        None or "" goes back to OpenBao's own version. Kept in the cluster's dr_state.json (survives stop/start;
        ``reset`` clears it). Works on a stopped cluster too."""
        self._check(name)
        if self._gateway_alive(name):
            body = {"action": "version", "version": version} if version else {"action": "version", "clear": True}
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
        return override

    # ------------------------------------------------------------ request log
    def requests(self, name: str, since: float | None = None) -> list:
        """Requests clients sent to cluster ``name``'s API address (oldest first, the last 5000, in the gateway's
        memory): dicts with ``method``, ``path`` (without /v1/), ``query``, ``status`` (HTTP status answered; for a
        dropped answer the one that would have been sent), ``answered`` (False for a drop_answer fault), ``time``
        (time.time() at arrival), ``duration``, ``cluster``. ``since``: only entries with time >= since.
        Not logged: the control channel and the replication traffic on the cluster address."""
        out = self._control(name, {"action": "requests", "since": since}, timeout=30)["requests"]
        for e in out:
            e["cluster"] = name
        return out

    def writes(self, name: str | None = None, since: float | None = None) -> list:
        """The state-changing requests (POST, PUT, DELETE, PATCH; a GET, even ?list=true, or LIST is never one)
        of cluster ``name``, or of every running cluster (one list, by time) when ``name`` is None."""
        names = [name] if name else [n for n in self.names() if self._gateway_alive(n)]
        out = [e for n in names for e in self.requests(n, since) if e["method"].upper() in WRITE_METHODS]
        return sorted(out, key=lambda e: e["time"])

    def clear_requests(self, name: str | None = None):
        """Forget the request log of cluster ``name`` (every running cluster when None)."""
        names = [name] if name else [n for n in self.names() if self._gateway_alive(n)]
        for n in names:
            self._control(n, {"action": "clear_requests"}, timeout=30)

    def op_generation_requires_token(self) -> bool:
        """Whether the lab emulates Vault 2.x on generate-operation-token (a Vault token required)."""
        return bool(self._config().get("op_generation_requires_token", False))

    def set_op_generation_requires_token(self, on: bool = True):
        """Emulate Vault 2.x (``on``): the DR secondaries' generate-operation-token endpoints (attempt GET/PUT/DELETE,
        update) answer 403 without a valid Vault token; off = pre-2.0, no token needed. Lab-wide: kept in the lab
        config (survives stop/start, applies to clusters added later) and pushed to every running gateway."""
        cfg = self._config()
        if not cfg:
            raise LabError(f"no lab in {self.dir}; run `drlab up` first")
        cfg["op_generation_requires_token"] = bool(on)
        atomic_write_json(self.config_path, cfg)
        self._push_op_generation_setting(self.names())

    def _push_op_generation_setting(self, names):
        on = self.op_generation_requires_token()
        running = [n for n in names if self._gateway_alive(n)]
        _in_parallel(lambda n: self._control(n, {"action": "op_token_auth", "required": on}, timeout=30), running)

    def latency(self, name: str, seconds: float, path: str | None = None):
        """Add ``seconds`` of latency to requests (matching ``path`` if given); 0 removes it."""
        return self._control(name, {"action": "latency", "seconds": float(seconds), "path": _norm_path(path or "")})

    def cut_link(self, a: str, b: str):
        """Cut the replication link between clusters a and b (their APIs stay up)."""
        ca, cb = self._cluster_cfg(a), self._cluster_cfg(b)
        self._control(a, {"action": "cut", "peer": cb["cluster_addr"]})
        self._control(b, {"action": "cut", "peer": ca["cluster_addr"]})

    def restore_link(self, a: str, b: str):
        ca, cb = self._cluster_cfg(a), self._cluster_cfg(b)
        self._control(a, {"action": "restore", "peer": cb["cluster_addr"]})
        self._control(b, {"action": "restore", "peer": ca["cluster_addr"]})

    def clear_faults(self, name: str):
        return self._control(name, {"action": "clear"})

    def reset(self, timeout: float = 120) -> dict:
        """Put every cluster back to a fresh state: DR disabled, data wiped, new keys/root token, unsealed."""
        names = self.names()

        def one(n):
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
