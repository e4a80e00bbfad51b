"""The drlab DR gateway: one process per cluster.

It owns the cluster's OpenBao server process, serves the Vault Enterprise DR
replication API on the cluster's API address (HTTPS), passes every other path
to OpenBao, and runs the replication channel (raft snapshots) on the cluster
address.  Run as ``python -m drlab.gateway --dir DIR --name a``.
"""

from __future__ import annotations

import argparse
import base64
import collections
import io
import fnmatch
import hashlib
import http.server
import json
import os
import secrets
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import traceback
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .util import SHARES, THRESHOLD, Bao, atomic_write_json, parse_duration, read_json, rfc3339

PATH_DISABLED = "path disabled in replication DR secondary mode"
NOT_SECONDARY = "Not a DR secondary."
NOT_PRIMARY = "Not a DR primary."
OP_TOKEN_MISSING = "DR operation token was not provided"  # noqa: S105 - an error message
OP_TOKEN_INVALID = "invalid DR operation token"  # noqa: S105 - an error message
WARN_SECONDARY_ENABLE = (
    "Vault has successfully found secondary information; it may take a while to perform setup tasks. "
    "Vault will be unavailable until these tasks and initial sync complete."
)
WARN_PRIMARY_ENABLE = (
    "This cluster is being enabled as a primary for replication. Vault will be unavailable for a brief period "
    "and will resume service shortly."
)
WARN_DEMOTE = (
    "This cluster is being demoted to a replication secondary. Vault will be unavailable for a brief period "
    "and will resume service shortly."
)
WARN_PROMOTE = (
    "This cluster is being promoted to a replication primary. Vault will be unavailable for a brief period "
    "and will resume service shortly."
)
WARN_DISABLE = (
    "This cluster is having replication disabled. Vault will be unavailable for a brief period and will resume service shortly."
)
HEARTBEAT_INTERVAL = 1.0
DISCONNECT_AFTER = 5.0
# paths a DR secondary still answers itself or passes to OpenBao
SECONDARY_ALLOWED = {"sys/health", "sys/seal-status", "sys/leader", "sys/init", "sys/unseal"}
HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "host", "content-length"}
ACTIVATION_PK_PREFIX = "drlabpk."
REQUEST_LOG_SIZE = 5000


class ApiError(Exception):
    def __init__(self, status: int, *errors: str):
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = list(errors)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_dec(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def envelope(data=None, warnings=None, wrap_info=None) -> dict:
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0, "data": data,
            "wrap_info": wrap_info, "warnings": warnings, "auth": None}


class Gateway:
    def __init__(self, directory: str, name: str):
        self.dir = os.path.abspath(directory)
        self.name = name
        self.cdir = os.path.join(self.dir, name)
        self.cfg = read_json(os.path.join(self.cdir, "cluster.json"))
        if not self.cfg:
            raise SystemExit(f"no cluster.json for {name} in {self.dir}")
        lab_cfg = read_json(os.path.join(self.dir, "lab-config.json"), {})
        self.secret = lab_cfg.get("secret", "")
        # Vault 2.x (and 1.19.17): generate-operation-token wants a Vault token; off = the older unauthenticated endpoints
        self.op_generation_requires_token = bool(lab_cfg.get("op_generation_requires_token", False))
        self.ca = self.cfg["ca_cert"]
        self.bao = Bao(self.cfg["bao_addr"], self.ca)
        self.state_path = os.path.join(self.cdir, "dr_state.json")
        self.lock = threading.RLock()  # DR state
        self.bao_lock = threading.RLock()  # OpenBao process / restores / token generation
        self.state = read_json(self.state_path) or self._fresh_state()
        self.recovery = False
        self.proc: subprocess.Popen | None = None
        self.faults: list[dict] = []
        self.latency: list[dict] = []
        self.cut_peers: set[str] = set()
        self.stop_event = threading.Event()
        self.primary_contact = {}  # secondary side: last heartbeat info (memory)
        self.sync_wakeup = threading.Event()
        self.restoring = False
        self.sync_thread = None
        with open(self.cfg["tls_key"], "rb") as fh:
            self.sign_key = serialization.load_pem_private_key(fh.read(), password=None)
        self.servers = []
        self.request_log: collections.deque = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self.log_lock = threading.Lock()
        self.real_version = ""

    # ------------------------------------------------------------------ state
    @staticmethod
    def _fresh_state() -> dict:
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

    def save(self):
        with self.lock:
            atomic_write_json(self.state_path, self.state)

    # -------------------------------------------------------------- OpenBao
    def _bao_cmd(self, recovery: bool):
        cmd = [self.cfg["bao_binary"], "server", f"-config={self.cfg['bao_config']}"]
        if recovery:
            cmd.append("-recovery")
        return cmd

    def start_bao(self, recovery: bool = False):
        self.real_version = ""
        log = open(os.path.join(self.cdir, "bao-recovery.log" if recovery else "bao.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(self._bao_cmd(recovery), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # noqa: S603
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
                if self.bao.req("GET", probe, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("OpenBao did not start listening")

    def stop_bao(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def unseal(self, keys):
        for k in keys[:THRESHOLD]:
            r = self.bao.req("POST", "sys/unseal", json_body={"key": k})
            if r.status_code != 200:
                raise RuntimeError(f"unseal failed: {r.status_code} {r.text}")
            if not r.json().get("sealed", True):
                break

    def leader(self) -> dict:
        r = self.bao.req("GET", "sys/leader", timeout=5)
        return r.json() if r.status_code == 200 else {}

    def wait_active(self, timeout=60, after_active_time=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = self.bao.req("GET", "sys/health", timeout=3)
                if r.status_code == 200:
                    if after_active_time is None:
                        return
                    now_active = self.leader().get("active_time")
                    if now_active and now_active != after_active_time:
                        return
                elif r.status_code == 503 and r.json().get("sealed") and self.state["unseal_keys_b64"]:
                    self.unseal(self.state["unseal_keys_b64"])
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("OpenBao did not become active")

    def bootstrap_bao(self):
        """Start OpenBao normally; initialise (5 shares / 3) on first start; unseal; wait active."""
        with self.bao_lock:
            self.start_bao(False)
            st = self.bao.req("GET", "sys/seal-status").json()
            if not st.get("initialized"):
                r = self.bao.req("POST", "sys/init", json_body={"secret_shares": SHARES, "secret_threshold": THRESHOLD})
                r.raise_for_status()
                init = r.json()
                atomic_write_json(os.path.join(self.cdir, "init.json"),
                                  {"unseal_keys_b64": init["keys_base64"], "unseal_keys_hex": init["keys"], "root_token": init["root_token"]})
                with self.lock:
                    self.state.update(self._fresh_state())
                    self.state["unseal_keys_b64"] = init["keys_base64"]
                    self.state["unseal_keys_hex"] = init["keys"]
                    self.save()
                self.unseal(init["keys_base64"])
                self.wait_active()
                r = self.bao.req("POST", "auth/token/create-orphan", token=init["root_token"],
                                 json_body={"policies": ["root"], "display_name": "drlab-gateway", "no_default_policy": True})
                r.raise_for_status()
                with self.lock:
                    self.state["service_token"] = r.json()["auth"]["client_token"]
                    self.save()
            else:
                if st.get("sealed"):
                    self.unseal(self.state["unseal_keys_b64"])
                self.wait_active()

    def reset(self):
        """Wipe OpenBao's data and DR state, re-initialise (new keys and root token)."""
        with self.bao_lock:
            self.stop_bao()
            raft = self.cfg["raft_dir"]
            for root, dirs, files in os.walk(raft, topdown=False):
                for f in files:
                    os.unlink(os.path.join(root, f))
                for d in dirs:
                    os.rmdir(os.path.join(root, d))
            with self.lock:
                self.state = self._fresh_state()
                self.save()
            self.faults.clear()
            self.latency.clear()
            self.cut_peers.clear()
            with self.log_lock:
                self.request_log.clear()
            self.bootstrap_bao()

    def set_recovery(self, on: bool):
        with self.bao_lock:
            if on == self.recovery:
                return
            self.stop_bao()
            if on:
                self.start_bao(True)
            else:
                self.start_bao(False)
                st = self.bao.req("GET", "sys/seal-status").json()
                if st.get("sealed"):
                    self.unseal(self.state["unseal_keys_b64"])
                self.wait_active()

    # ------------------------------------------------------------- helpers
    def caps_self(self, token: str | None, path: str) -> list:
        if not token:
            raise ApiError(403, "permission denied")
        r = self.bao.req("POST", "sys/capabilities-self", token=token, json_body={"paths": [path]})
        if r.status_code != 200:
            raise ApiError(403, "permission denied")
        body = r.json()
        return body.get(path) or body.get("capabilities") or []

    def require_caps(self, token, path, need=("update",)):
        caps = self.caps_self(token, path)
        if "root" in caps:
            return
        if any(n in caps for n in need):
            return
        raise ApiError(403, "permission denied")

    def check_op_token(self, tok, path: str):
        if not tok:
            raise ApiError(400, OP_TOKEN_MISSING)
        if sha256(tok) in self.state.get("op_tokens", []):
            return "op"
        try:
            r = self.bao.req("POST", "sys/capabilities", token=self.state["service_token"], json_body={"token": tok, "paths": [path]})
        except requests.RequestException as exc:
            raise ApiError(503, f"unable to check DR operation token: {exc}") from exc
        if r.status_code == 200:
            caps = r.json().get(path) or r.json().get("capabilities") or []
            if "root" in caps or "update" in caps:
                return "token"
        elif r.status_code >= 500:
            raise ApiError(503, f"unable to check DR operation token now (OpenBao answered {r.status_code}); retry")
        raise ApiError(400, OP_TOKEN_INVALID)

    def sign_jwt(self, claims: dict) -> str:
        header = b64url(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        der = self.sign_key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}.{payload}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify_jwt(self, token: str):
        """Return claims if ``token`` is an activation JWT this gateway signed, else None."""
        parts = token.split(".")
        if len(parts) != 3 or not token.startswith("eyJ"):
            return None
        try:
            sig = b64url_dec(parts[2])
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self.sign_key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            return json.loads(b64url_dec(parts[1]))
        except Exception:  # noqa: BLE001 - any failure means "not ours"
            return None

    # ------------------------------------------------------------- status
    def primary_index(self) -> int:
        try:
            return int(self.leader().get("raft_committed_index", 0))
        except (requests.RequestException, ValueError):
            return 0

    @staticmethod
    def merkle(cluster_id: str, index: int) -> str:
        return hashlib.sha1(f"{cluster_id}:{index}".encode()).hexdigest()  # noqa: S324 - not security relevant

    def dr_status(self) -> dict:
        with self.lock:
            st = json.loads(json.dumps(self.state))
        mode = st["mode"]
        if mode == "disabled":
            return {"mode": "disabled"}
        if mode == "primary":
            idx = self.primary_index()
            now = time.time()
            secs = []
            for sid, info in sorted(st["known_secondaries"].items()):
                hb = info.get("last_heartbeat")
                entry = {"node_id": sid, "connection_status": "connected" if hb and now - hb < DISCONNECT_AFTER else "disconnected",
                         "clock_skew_ms": "0", "last_heartbeat_duration_ms": "0", "replication_primary_canary_age_ms": "0"}
                if hb:
                    entry["last_heartbeat"] = rfc3339(hb)
                    entry["api_address"] = info.get("api_address", "")
                    entry["cluster_address"] = info.get("cluster_address", "")
                    entry["replication_primary_canary_age_ms"] = str(int((now - hb) * 1000))
                secs.append(entry)
            return {"mode": "primary", "state": "running", "cluster_id": st["cluster_id"],
                    "known_secondaries": sorted(st["known_secondaries"]), "secondaries": secs,
                    "last_wal": idx, "last_dr_wal": idx, "last_reindex_epoch": "0", "merkle_root": self.merkle(st["cluster_id"], idx),
                    "corrupted_merkle_tree": False, "primary_cluster_addr": st.get("primary_cluster_addr", ""),
                    "ssct_generation_counter": 0, "last_start": st.get("last_start", "")}
        sec = st.get("secondary") or {}
        addrs = sec.get("primary_cluster_addrs", [])
        contact = self.primary_contact
        hb = contact.get("last_heartbeat")
        connected = bool(hb and time.time() - hb < DISCONNECT_AFTER and contact.get("ok"))
        applied = int(sec.get("applied_index", 0))
        if not addrs:
            state, cstate = "idle", "idle"
        elif sec.get("syncing_first"):
            state = "merkle-sync" if contact.get("ok") else "connecting"
            cstate = "ready" if connected else ("transient_failure" if contact.get("error") else "connecting")
        elif connected:
            state, cstate = "stream-wals", "ready"
        else:
            state = "idle"
            cstate = "transient_failure" if contact.get("error") or hb else "connecting"
        primaries = []
        if addrs:
            p = {"api_address": sec.get("primary_api_addr", ""), "cluster_address": contact.get("addr") or addrs[0],
                 "connection_status": "connected" if connected else "disconnected", "clock_skew_ms": "0",
                 "last_heartbeat_duration_ms": "0"}
            if hb:
                p["last_heartbeat"] = rfc3339(hb)
            primaries.append(p)
        out = {"mode": "secondary", "state": state, "connection_state": cstate, "cluster_id": st["cluster_id"],
               "known_primary_cluster_addrs": list(addrs), "last_remote_wal": applied,
               "merkle_root": self.merkle(st["cluster_id"], applied), "corrupted_merkle_tree": False,
               "last_reindex_epoch": "0", "primaries": primaries, "primary_cluster_addr": (contact.get("addr") or addrs[0]) if addrs else "",
               "secondary_id": sec.get("secondary_id", ""), "last_start": st.get("last_start", ""),
               "ssct_generation_counter": 0}
        if contact.get("error") and not connected:
            out["connection_error"] = contact["error"]
        return out

    def health_mode(self) -> str:
        mode = self.state["mode"]
        if mode == "secondary" and (self.state.get("secondary") or {}).get("syncing_first"):
            return "bootstrapping"
        return mode

    # ------------------------------------------------------ activation tokens
    def make_activation_payload(self, sid: str, credential: str) -> dict:
        with open(self.ca) as fh:
            ca_pem = fh.read()
        return {"type": "drlab-dr-activation", "secondary_id": sid, "credential": credential,
                "cluster_id": self.state["cluster_id"],
                "primary_cluster_addr": self.state.get("primary_cluster_addr") or self.cfg["cluster_addr"],
                "primary_api_addr": self.cfg["api_addr"], "cluster_ca_pem": ca_pem}

    def seal_to_public_key(self, pub_b64: str, payload: dict) -> str:
        try:
            peer = x25519.X25519PublicKey.from_public_bytes(base64.b64decode(pub_b64))
        except Exception as exc:  # noqa: BLE001
            raise ApiError(400, f"invalid secondary_public_key: {exc}") from exc
        eph = x25519.X25519PrivateKey.generate()
        key = HKDF(hashes.SHA256(), 32, None, b"drlab-dr-activation").derive(eph.exchange(peer))
        nonce = os.urandom(12)
        ct = AESGCM(key).encrypt(nonce, json.dumps(payload).encode(), None)
        epk = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return ACTIVATION_PK_PREFIX + b64url(json.dumps({"epk": b64url(epk), "n": b64url(nonce), "ct": b64url(ct)}).encode())

    def open_sealed_token(self, token: str) -> dict:
        priv_b64 = self.state.get("public_key_private")
        if not priv_b64:
            raise ApiError(400, "activation token is encrypted to a public key but no secondary key pair was generated here")
        try:
            blob = json.loads(b64url_dec(token[len(ACTIVATION_PK_PREFIX):]))
            priv = x25519.X25519PrivateKey.from_private_bytes(base64.b64decode(priv_b64))
            shared = priv.exchange(x25519.X25519PublicKey.from_public_bytes(b64url_dec(blob["epk"])))
            key = HKDF(hashes.SHA256(), 32, None, b"drlab-dr-activation").derive(shared)
            return json.loads(AESGCM(key).decrypt(b64url_dec(blob["n"]), b64url_dec(blob["ct"]), None))
        except Exception as exc:  # noqa: BLE001
            raise ApiError(400, f"unable to decrypt activation token with this cluster's private key: {exc}") from exc

    def _ca_path_bundle(self, ca_path: str) -> str:
        """Like Vault's ca_path: every PEM certificate in the directory is trusted (no c_rehash names needed)."""
        if not os.path.isdir(ca_path):
            raise ApiError(400, f"error unwrapping secondary token: ca_path {ca_path!r} is not a directory")
        pems = []
        for fn in sorted(os.listdir(ca_path)):
            full = os.path.join(ca_path, fn)
            if not os.path.isfile(full):
                continue
            try:
                with open(full, errors="replace") as fh:
                    text = fh.read()
            except OSError:
                continue
            start = 0
            while True:
                i = text.find("-----BEGIN CERTIFICATE-----", start)
                if i < 0:
                    break
                j = text.find("-----END CERTIFICATE-----", i)
                if j < 0:
                    break
                pems.append(text[i:j + len("-----END CERTIFICATE-----")])
                start = j
        if not pems:
            raise ApiError(400, f"error unwrapping secondary token: no PEM certificates found in ca_path {ca_path!r}")
        bundle = os.path.join(self.cdir, "ca-path-bundle.pem")
        with open(bundle, "w") as fh:
            fh.write("\n".join(pems) + "\n")
        return bundle

    def fetch_activation(self, token: str, primary_api_addr: str, ca_file: str, ca_path: str) -> dict:
        """Unwrap (or decrypt) an activation token the way a Vault secondary does."""
        if token.startswith(ACTIVATION_PK_PREFIX):
            return self.open_sealed_token(token)
        addr = primary_api_addr
        if not addr:
            parts = token.split(".")
            try:
                addr = json.loads(b64url_dec(parts[1])).get("addr", "") if len(parts) == 3 else ""
            except ValueError:
                addr = ""
        if not addr:
            raise ApiError(400, "unable to determine the primary's API address from the activation token; set primary_api_addr")
        verify: object = True
        if ca_file:
            verify = ca_file
        elif ca_path:
            verify = self._ca_path_bundle(ca_path)
        try:
            r = requests.post(addr.rstrip("/") + "/v1/sys/wrapping/unwrap", headers={"X-Vault-Token": token}, verify=verify, timeout=15)
        except requests.RequestException as exc:
            raise ApiError(400, f"error unwrapping secondary token: {exc}") from exc
        if r.status_code != 200:
            try:
                errs = r.json().get("errors") or [r.text]
            except ValueError:
                errs = [r.text]
            raise ApiError(400, *[f"error unwrapping secondary token: {e}" for e in errs])
        data = (r.json() or {}).get("data") or {}
        if data.get("type") != "drlab-dr-activation":
            raise ApiError(400, "error unwrapping secondary token: the wrapped data is not a DR secondary activation token")
        return data

    # ------------------------------------------------------ DR operations
    def op_primary_enable(self, token, params):
        self.require_caps(token, "sys/replication/dr/primary/enable")
        with self.lock:
            if self.state["mode"] == "primary":
                raise ApiError(400, "this cluster is already a DR primary")
            if self.state["mode"] == "secondary":
                raise ApiError(400, "this cluster is a DR secondary; promote it instead of enabling it as a primary")
            self.state["mode"] = "primary"
            self.state["cluster_id"] = str(uuid.uuid4())
            self.state["primary_cluster_addr"] = params.get("primary_cluster_addr") or ""
            self.state["known_secondaries"] = {}
            self.state["secondary"] = None
            self.state["last_start"] = rfc3339()
            self.save()
        return 200, envelope(None, [WARN_PRIMARY_ENABLE])

    def op_primary_demote(self, token, params):
        self.require_caps(token, "sys/replication/dr/primary/demote")
        with self.lock:
            if self.state["mode"] != "primary":
                raise ApiError(400, NOT_PRIMARY)
            self.state["mode"] = "secondary"
            self.state["known_secondaries"] = {}
            self.state["secondary"] = {"secondary_id": "", "primary_cluster_addrs": [], "primary_api_addr": "",
                                       "applied_index": self.primary_index(), "syncing_first": False, "needs_force": True}
            self.state["has_data"] = True
            self.state["op_tokens"] = []
            self.primary_contact = {}
            self.save()
        return 200, envelope(None, [WARN_DEMOTE])

    def op_primary_disable(self, token, params):
        self.require_caps(token, "sys/replication/dr/primary/disable")
        with self.lock:
            if self.state["mode"] != "primary":
                raise ApiError(400, NOT_PRIMARY)
            self.state["mode"] = "disabled"
            self.state["cluster_id"] = ""
            self.state["known_secondaries"] = {}
            self.save()
        return 200, envelope(None, [WARN_DISABLE])

    def op_secondary_token(self, token, params):
        self.require_caps(token, "sys/replication/dr/primary/secondary-token", need=("sudo",))
        sid = str(params.get("id") or "")
        if not sid:
            raise ApiError(400, "missing required 'id' parameter")
        try:
            ttl = parse_duration(params.get("ttl"), 1800)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        if ttl <= 0:
            raise ApiError(400, "ttl must be positive")
        with self.lock:
            if self.state["mode"] != "primary":
                raise ApiError(400, NOT_PRIMARY)
            if sid in self.state["known_secondaries"]:
                raise ApiError(400, f"a secondary with id {sid!r} already exists; revoke it first")
            credential = secrets.token_urlsafe(32)
            payload = self.make_activation_payload(sid, credential)
            pub = params.get("secondary_public_key")
            if pub:
                tok = self.seal_to_public_key(pub, payload)
                self.state["known_secondaries"][sid] = {"credential_sha256": sha256(credential), "issued": time.time()}
                self.save()
                return 200, envelope({"token": tok})
            r = self.bao.req("POST", "sys/wrapping/wrap", token=self.state["service_token"], json_body=payload,
                             headers={"X-Vault-Wrap-TTL": str(ttl)})
            if r.status_code != 200:
                raise ApiError(500, f"unable to wrap activation token: {r.status_code} {r.text}")
            wi = r.json()["wrap_info"]
            now = int(time.time())
            jwt = self.sign_jwt({"accessor": wi.get("accessor", ""), "addr": self.cfg["api_addr"], "exp": now + ttl, "iat": now,
                                 "jti": wi["token"], "nbf": now - 5, "type": "wrapping"})
            self.state["known_secondaries"][sid] = {"credential_sha256": sha256(credential), "issued": time.time()}
            self.save()
        wrap_info = {"token": jwt, "accessor": wi.get("accessor", ""), "ttl": wi.get("ttl", ttl),
                     "creation_time": wi.get("creation_time", rfc3339()), "creation_path": "sys/replication/dr/primary/secondary-token",
                     "wrapped_accessor": ""}
        return 200, envelope(None, None, wrap_info)

    def op_revoke_secondary(self, token, params):
        self.require_caps(token, "sys/replication/dr/primary/revoke-secondary")
        sid = str(params.get("id") or "")
        if not sid:
            raise ApiError(400, "missing required 'id' parameter")
        with self.lock:
            if self.state["mode"] != "primary":
                raise ApiError(400, NOT_PRIMARY)
            if sid not in self.state["known_secondaries"]:
                raise ApiError(400, f"no secondary with id {sid!r} is known")
            del self.state["known_secondaries"][sid]
            self.save()
        return 204, None

    def op_generate_public_key(self, token, params):
        priv = x25519.X25519PrivateKey.generate()
        with self.lock:
            self.state["public_key_private"] = base64.b64encode(
                priv.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())).decode()
            self.save()
        pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return 200, envelope({"secondary_public_key": base64.b64encode(pub).decode()})

    def _attach(self, payload: dict, first_sync: bool):
        self.state["secondary"] = {"secondary_id": payload["secondary_id"], "credential": payload["credential"],
                                   "primary_cluster_addrs": [payload["primary_cluster_addr"]],
                                   "primary_api_addr": payload["primary_api_addr"], "cluster_ca_pem": payload["cluster_ca_pem"],
                                   "applied_index": 0 if first_sync else (self.state.get("secondary") or {}).get("applied_index", 0),
                                   "syncing_first": first_sync, "needs_force": True}
        self.primary_contact = {}

    def op_secondary_enable(self, token, params):
        self.require_caps(token, "sys/replication/dr/secondary/enable")
        act = params.get("token")
        if not act:
            raise ApiError(400, "missing required 'token' parameter")
        with self.lock:
            if self.state["mode"] == "primary":
                raise ApiError(400, "this cluster is a DR primary; disable or demote it before enabling it as a secondary")
            if self.state["mode"] == "secondary":
                raise ApiError(400, "this cluster is already a DR secondary")
        payload = self.fetch_activation(act, params.get("primary_api_addr", ""), params.get("ca_file", ""), params.get("ca_path", ""))
        with self.lock:
            self.state["mode"] = "secondary"
            self.state["cluster_id"] = payload["cluster_id"]
            self.state["known_secondaries"] = {}
            self.state["op_tokens"] = []
            self.state["has_data"] = False
            self.state["last_start"] = rfc3339()
            self._attach(payload, first_sync=True)
            self.save()
        self.sync_wakeup.set()
        return 200, envelope(None, [WARN_SECONDARY_ENABLE])

    def _require_secondary(self):
        if self.state["mode"] != "secondary":
            raise ApiError(400, NOT_SECONDARY)

    def op_promote(self, token, params):
        with self.lock:
            self._require_secondary()
        with self.bao_lock:  # an in-flight snapshot restore finishes first
            self.check_op_token(params.get("dr_operation_token"), "sys/replication/dr/secondary/promote")
        with self.bao_lock, self.lock:
            self._require_secondary()
            sec = self.state.get("secondary") or {}
            if sec.get("syncing_first") or not self.state.get("has_data"):
                raise ApiError(400, "cannot promote: this secondary has not completed its initial sync with a primary")
            self.state["mode"] = "primary"
            self.state["known_secondaries"] = {}
            self.state["secondary"] = None
            self.state["primary_cluster_addr"] = params.get("primary_cluster_addr") or ""
            self.state["op_tokens"] = []
            self.state["last_start"] = rfc3339()
            self.primary_contact = {}
            self.save()
        return 200, envelope(None, [WARN_PROMOTE])

    def op_secondary_disable(self, token, params):
        with self.lock:
            self._require_secondary()
        with self.bao_lock:  # an in-flight snapshot restore finishes first
            self.check_op_token(params.get("dr_operation_token"), "sys/replication/dr/secondary/disable")
        with self.bao_lock, self.lock:
            self._require_secondary()
            self.state["mode"] = "disabled"
            self.state["cluster_id"] = ""
            self.state["secondary"] = None
            self.state["op_tokens"] = []
            self.primary_contact = {}
            self.save()
        return 200, envelope(None, [WARN_DISABLE])

    def op_update_primary(self, token, params):
        with self.lock:
            self._require_secondary()
        with self.bao_lock:  # an in-flight snapshot restore finishes first
            self.check_op_token(params.get("dr_operation_token"), "sys/replication/dr/secondary/update-primary")
        addrs = params.get("update_primary_addrs")
        if addrs:
            if params.get("token"):
                raise ApiError(400, "'token' and 'update_primary_addrs' cannot be used together")
            if isinstance(addrs, str):
                addrs = [a.strip() for a in addrs.split(",") if a.strip()]
            with self.lock:
                sec = self.state.get("secondary") or {}
                if not sec.get("secondary_id"):
                    raise ApiError(400, "update_primary_addrs cannot be used on a cluster that has no known primary "
                                        "(for example a newly demoted primary); use an activation token")
                sec["primary_cluster_addrs"] = list(addrs)
                self.state["secondary"] = sec
                self.primary_contact = {}
                self.save()
            self.sync_wakeup.set()
            return 204, None
        if "token" not in params:
            raise ApiError(400, "missing required 'token' parameter")
        act = params.get("token") or ""
        if act == "":
            with self.lock:
                sec = self.state.get("secondary") or {}
                sec.update({"secondary_id": "", "credential": "", "primary_cluster_addrs": [], "primary_api_addr": "", "syncing_first": False})
                self.state["secondary"] = sec
                self.primary_contact = {}
                self.save()
            return 204, None
        payload = self.fetch_activation(act, params.get("primary_api_addr", ""), params.get("ca_file", ""), params.get("ca_path", ""))
        with self.lock:
            if self.state["cluster_id"] and payload["cluster_id"] != self.state["cluster_id"]:
                raise ApiError(400, f"the primary's cluster id {payload['cluster_id']} does not match this secondary's "
                                    f"{self.state['cluster_id']}; re-enable the secondary (which wipes it) instead")
            first = not self.state.get("has_data")
            self._attach(payload, first_sync=first)
            self.save()
        self.sync_wakeup.set()
        return 204, None

    def op_reindex(self, token, params):
        with self.lock:
            self._require_secondary()
        with self.bao_lock:  # an in-flight snapshot restore finishes first
            self.check_op_token(params.get("dr_operation_token"), "sys/replication/dr/secondary/reindex")
        with self.lock:
            sec = self.state.get("secondary") or {}
            if sec:
                sec["applied_index"] = -1  # forces a full resync on the next heartbeat
                self.save()
        self.sync_wakeup.set()
        return 200, envelope({"reindex": "started"})

    def op_token_delete(self, token, params):
        with self.lock:
            self._require_secondary()
        tok = params.get("dr_operation_token")
        if not tok:
            raise ApiError(400, OP_TOKEN_MISSING)
        h = sha256(tok)
        with self.bao_lock:
            with self.lock:
                remembered = h in self.state.get("op_tokens", [])
            if not remembered:
                # any other token with update on this path is accepted, and revoked as an OpenBao token
                self.check_op_token(tok, "sys/replication/dr/secondary/operation-token/delete")
                r = self.bao.req("POST", "auth/token/revoke", token=self.state["service_token"], json_body={"token": tok})
                if r.status_code >= 400:
                    errs = r.json().get("errors", []) if r.headers.get("Content-Type", "").startswith("application/json") else []
                    raise ApiError(400, *(errs or [f"unable to revoke the token: {r.status_code}"]))
                return 204, None
            with self.lock:
                self.state["op_tokens"].remove(h)
                self.save()
            try:  # also revoke it in OpenBao if it still exists there (until the next restore it does)
                self.bao.req("POST", "auth/token/revoke", token=self.state["service_token"], json_body={"token": tok})
            except requests.RequestException:
                pass
        return 204, None

    # generate-operation-token: OpenBao's own generate-root underneath
    def _token_ids(self) -> set:
        r = self.bao.req("LIST", "sys/raw/sys/token/id/", token=self.state["service_token"])
        if r.status_code != 200:
            return set()
        return set(r.json().get("data", {}).get("keys", []))

    def _register_new_root_tokens(self, before: set):
        for key in sorted(self._token_ids() - before):
            r = self.bao.req("GET", f"sys/raw/sys/token/id/{key}", token=self.state["service_token"])
            if r.status_code != 200:
                continue
            try:
                entry = json.loads(r.json()["data"]["value"])
            except (ValueError, KeyError):
                continue
            if entry.get("path") == "auth/token/root" and entry.get("id"):
                with self.lock:
                    self.state.setdefault("op_tokens", []).append(sha256(entry["id"]))
                    self.save()

    def check_op_gen_token(self, token):
        """generate-operation-token: a Vault token, when sent, must be valid on this cluster's OpenBao (on a DR
        secondary that is the primary's token store, so the primary's root token passes); one is required only
        when the lab emulates Vault 2.x (``op_generation_requires_token``), as Vault answers an authenticated path."""
        if not token:
            if self.op_generation_requires_token:
                raise ApiError(403, "permission denied")
            return
        with self.bao_lock:  # an in-flight snapshot restore (which swaps the token store) finishes first
            r = self.bao.req("GET", "auth/token/lookup-self", token=token)
        if r.status_code >= 500:
            raise ApiError(503, f"unable to check the Vault token now (OpenBao answered {r.status_code}); retry")
        if r.status_code != 200:
            raise ApiError(403, "permission denied")

    def op_gen_attempt(self, method, token, params, raw_body):
        with self.lock:
            self._require_secondary()
        self.check_op_gen_token(token)
        if method == "GET":
            r = self.bao.req("GET", "sys/generate-root/attempt")
            return r.status_code, r.content
        if method == "DELETE":
            with self.bao_lock:
                r = self.bao.req("DELETE", "sys/generate-root/attempt")
                self.gen_before = None
            return r.status_code, r.content
        with self.bao_lock:  # waits for a restore in flight; restores skip while an attempt runs
            self.gen_before = self._token_ids()
            r = self.bao.req("PUT", "sys/generate-root/attempt", data=raw_body or b"{}", headers={"Content-Type": "application/json"})
        return r.status_code, r.content

    def op_gen_update(self, token, params, raw_body):
        with self.lock:
            self._require_secondary()
        self.check_op_gen_token(token)
        with self.bao_lock:
            before = getattr(self, "gen_before", None)
            if before is None:
                before = self._token_ids()
            r = self.bao.req("PUT", "sys/generate-root/update", data=raw_body or b"{}", headers={"Content-Type": "application/json"})
            if r.status_code == 200 and r.json().get("complete"):
                self._register_new_root_tokens(before)
                self.gen_before = None
        return r.status_code, r.content

    # ------------------------------------------------------ replication channel (secondary side)
    def _repl_session(self, sec) -> tuple[requests.Session, str]:
        ca_path = os.path.join(self.cdir, "primary-ca.pem")
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
                          "X-Drlab-From": self.cfg["cluster_addr"]})
        return s, ca_path

    def sync_loop(self):
        while not self.stop_event.is_set():
            self.sync_wakeup.wait(HEARTBEAT_INTERVAL)
            self.sync_wakeup.clear()
            if self.stop_event.is_set():
                return
            try:
                self.sync_once()
            except Exception:  # noqa: BLE001 - keep the loop alive; log it
                traceback.print_exc()

    def sync_once(self):
        with self.lock:
            if self.state["mode"] != "secondary" or self.recovery:
                return
            sec = json.loads(json.dumps(self.state.get("secondary") or {}))
        addrs = sec.get("primary_cluster_addrs") or []
        if not addrs or not sec.get("secondary_id"):
            return
        s, _ = self._repl_session(sec)
        r = None
        error = ""
        for addr in addrs:  # known primary cluster addresses, in order; the first that answers wins
            if addr in self.cut_peers:
                error = "replication link cut (drlab fault)"
                continue
            try:
                r = s.post(addr + "/drlab/repl/heartbeat", json={"api_address": self.cfg["api_addr"], "cluster_address": self.cfg["cluster_addr"],
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
            self.primary_contact = {**self.primary_contact, "ok": False, "error": error}
            return
        info = r.json()
        self.primary_contact = {"ok": True, "last_heartbeat": time.time(), "index": info.get("index", 0), "error": "", "addr": addr}
        if info.get("cluster_id") != self.state["cluster_id"]:
            self.primary_contact = {**self.primary_contact, "ok": False, "error": "primary cluster id changed; the secondary needs a wipe"}
            return
        if sec.get("needs_force") or int(info.get("index", 0)) != int(sec.get("applied_index", 0)):
            if self.sync_thread is None or not self.sync_thread.is_alive():
                self.sync_thread = threading.Thread(target=self._pull_guarded, args=(s, addr, sec), daemon=True)
                self.sync_thread.start()

    def _pull_guarded(self, s, addr, sec):
        try:
            self.pull_snapshot(s, addr, sec)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.primary_contact = {**self.primary_contact, "error": f"sync failed: {exc}"}

    def _generation_running(self) -> bool:
        try:
            r = self.bao.req("GET", "sys/generate-root/attempt", timeout=5)
            return r.status_code == 200 and bool(r.json().get("started"))
        except (requests.RequestException, ValueError):
            return True

    def pull_snapshot(self, s: requests.Session, addr: str, sec: dict):
        if not self.bao_lock.acquire(timeout=0.5):
            return
        try:
            if self._generation_running():
                return  # a key-share ceremony is in progress: a restore would wipe it
            with self.lock:
                cur = self.state.get("secondary") or {}
                if self.state["mode"] != "secondary" or cur.get("secondary_id") != sec.get("secondary_id"):
                    return
                # decide from the current state (the caller's copy may predate a restore that just finished)
                sec = json.loads(json.dumps(cur))
                if not sec.get("needs_force") and int(self.primary_contact.get("index", -1)) == int(sec.get("applied_index", 0)):
                    return
            self.restoring = True
            r = s.get(addr + "/drlab/repl/snapshot", timeout=60)
            if r.status_code != 200:
                self.primary_contact = {**self.primary_contact, "ok": False, "error": f"snapshot refused: {r.status_code}"}
                return
            index = int(r.headers.get("X-Drlab-Index", "0"))
            t0 = time.time()
            snap = r.content
            before = self.leader().get("active_time")
            force = bool(sec.get("needs_force"))
            if not force:
                rr = self.bao.req("POST", "sys/storage/raft/snapshot", token=self.state["service_token"], data=snap, timeout=60)
                if rr.status_code not in (200, 204):
                    force = True
            if force:
                b = s.post(addr + "/drlab/repl/bootstrap", timeout=10)
                if b.status_code != 200:
                    self.primary_contact = {**self.primary_contact, "ok": False, "error": f"bootstrap refused: {b.status_code}"}
                    return
                boot = b.json()
                rr = self.bao.req("POST", "sys/storage/raft/snapshot-force", token=self.state["service_token"], data=snap, timeout=60)
                if rr.status_code not in (200, 204):
                    raise RuntimeError(f"forced snapshot restore failed: {rr.status_code} {rr.text}")
                with self.lock:
                    self.state["unseal_keys_b64"] = boot["unseal_keys_b64"]
                    self.state["unseal_keys_hex"] = boot["unseal_keys_hex"]
                    self.state["service_token"] = boot["service_token"]
                    self.save()
            self.wait_active(timeout=60, after_active_time=before)
            with self.lock:
                cur = self.state.get("secondary") or {}
                if cur.get("secondary_id") == sec.get("secondary_id"):
                    cur["applied_index"] = index
                    cur["needs_force"] = False
                    cur["syncing_first"] = False
                    self.state["has_data"] = True
                    self.state["secondary"] = cur
                    self.save()
            print(f"{rfc3339()} sync: restored primary index {index} (forced={force}) in {time.time() - t0:.1f}s", flush=True)
        finally:
            self.restoring = False
            self.bao_lock.release()

    # ------------------------------------------------------ replication channel (primary side)
    def repl_auth(self, headers) -> str:
        sid = headers.get("X-Drlab-Secondary-Id", "")
        cred = headers.get("X-Drlab-Credential", "")
        with self.lock:
            if self.state["mode"] != "primary":
                raise ApiError(409, "this cluster is not a DR primary")
            info = self.state["known_secondaries"].get(sid)
            if not info or not cred or not secrets.compare_digest(info["credential_sha256"], sha256(cred)):
                raise ApiError(403, "secondary is not known to this primary (revoked or never issued)")
        return sid

    def repl_heartbeat(self, headers, body):
        sid = self.repl_auth(headers)
        idx = self.primary_index()
        with self.lock:
            info = self.state["known_secondaries"].get(sid)
            if info is not None:
                info["last_heartbeat"] = time.time()
                info["api_address"] = body.get("api_address", "")
                info["cluster_address"] = body.get("cluster_address", "")
                # heartbeats are frequent: persist only the first contact
                if not info.get("persisted_contact"):
                    info["persisted_contact"] = True
                    self.save()
        return {"cluster_id": self.state["cluster_id"], "index": idx}

    def repl_snapshot(self, headers):
        self.repl_auth(headers)
        idx = self.primary_index()
        r = self.bao.req("GET", "sys/storage/raft/snapshot", token=self.state["service_token"], timeout=60)
        if r.status_code != 200:
            raise ApiError(503, f"snapshot failed: {r.status_code}")
        return idx, r.content

    def repl_bootstrap(self, headers):
        self.repl_auth(headers)
        with self.lock:
            return {"unseal_keys_b64": self.state["unseal_keys_b64"], "unseal_keys_hex": self.state["unseal_keys_hex"],
                    "service_token": self.state["service_token"], "cluster_id": self.state["cluster_id"]}

    # ------------------------------------------------------ reported version, request log
    def bao_version(self) -> str:
        """OpenBao's own version (asked once per OpenBao start; '' while it does not answer)."""
        if not self.real_version and not self.recovery:
            try:
                self.real_version = str(self.bao.req("GET", "sys/seal-status", timeout=3).json().get("version") or "")
            except (requests.RequestException, ValueError):
                pass
        return self.real_version

    def version_override(self) -> str:
        with self.lock:
            return self.state.get("reported_version") or ""

    def reported_version(self) -> str:
        return self.version_override() or self.bao_version()

    def set_reported_version(self, version: str):
        with self.lock:
            self.state["reported_version"] = version or ""
            self.save()

    def log_request(self, entry: dict):
        with self.log_lock:
            self.request_log.append(entry)

    def requests_since(self, since) -> list:
        with self.log_lock:
            entries = list(self.request_log)
        if since is not None:
            entries = [e for e in entries if e["time"] >= float(since)]
        return [dict(e) for e in entries]

    # ------------------------------------------------------ faults
    def take_fault(self, method: str, vpath: str):
        with self.lock:
            for f in self.faults:
                if f["count"] == 0:
                    continue
                if f.get("method") and f["method"].upper() != method:
                    continue
                if not fnmatch.fnmatchcase(vpath, f["path"]):
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                self.faults = [x for x in self.faults if x["count"] != 0]
                return f
        return None

    def delay_for(self, vpath: str) -> float:
        with self.lock:
            return sum(x["seconds"] for x in self.latency if not x.get("path") or fnmatch.fnmatchcase(vpath, x["path"]))

    def control(self, body: dict):
        action = body.get("action")
        if action == "ping":
            return {"ok": True, "pid": os.getpid()}
        if action == "status":
            sealed = None
            try:
                if not self.recovery:
                    sealed = self.bao.req("GET", "sys/seal-status", timeout=3).json().get("sealed")
            except (requests.RequestException, ValueError):
                pass
            return {"running": True, "recovery": self.recovery, "sealed": sealed, "dr_mode": self.state["mode"],
                    "dr": self.dr_status() if not self.recovery else None, "faults": self.faults, "latency": self.latency,
                    "cut_links": sorted(self.cut_peers), "unseal_keys_b64": self.state["unseal_keys_b64"],
                    "op_generation_requires_token": self.op_generation_requires_token,
                    "version": self.reported_version(), "real_version": self.bao_version(),
                    "version_override": self.state.get("reported_version") or ""}
        if action == "version":
            if body.get("clear"):
                self.set_reported_version("")
            elif body.get("version"):
                self.set_reported_version(str(body["version"]))
            return {"ok": True, "version": self.reported_version(), "real_version": self.bao_version(),
                    "version_override": self.state.get("reported_version") or ""}
        if action == "requests":
            return {"ok": True, "requests": self.requests_since(body.get("since"))}
        if action == "clear_requests":
            with self.log_lock:
                self.request_log.clear()
            return {"ok": True}
        if action == "fault" and body.get("drop_answer"):
            if int(body.get("count", 1)) == 0:
                return {"ok": True}
            with self.lock:
                self.faults.append({"path": body.get("path") or "*", "drop_answer": True, "count": int(body.get("count", 1)),
                                    "method": body.get("method") or ""})
            return {"ok": True}
        if action == "fault":
            status = int(body["status"])
            msg = body.get("message") or {412: "required index state not present", 503: "Vault is temporarily unavailable (drlab fault)",
                                          429: "too many requests (drlab fault)"}.get(status, f"drlab injected fault {status}")
            if int(body.get("count", 1)) == 0:
                return {"ok": True}
            with self.lock:
                self.faults.append({"path": body.get("path") or "*", "status": status, "count": int(body.get("count", 1)),
                                    "method": body.get("method") or "", "message": msg})
            return {"ok": True}
        if action == "latency":
            with self.lock:
                self.latency = [x for x in self.latency if x.get("path") != (body.get("path") or "")]
                if float(body.get("seconds", 0)) > 0:
                    self.latency.append({"seconds": float(body["seconds"]), "path": body.get("path") or ""})
            return {"ok": True}
        if action == "op_token_auth":
            self.op_generation_requires_token = bool(body.get("required"))
            return {"ok": True, "op_generation_requires_token": self.op_generation_requires_token}
        if action == "cut":
            self.cut_peers.add(body["peer"])
            return {"ok": True}
        if action == "restore":
            self.cut_peers.discard(body["peer"])
            return {"ok": True}
        if action == "clear":
            with self.lock:
                self.faults.clear()
                self.latency.clear()
                self.cut_peers.clear()
            return {"ok": True}
        if action == "recovery":
            self.set_recovery(bool(body.get("on", True)))
            return {"ok": True, "recovery": self.recovery}
        if action == "reset":
            self.reset()
            return {"ok": True}
        raise ApiError(400, f"unknown control action {action!r}")


class _TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, ctx: ssl.SSLContext, gw: Gateway, kind: str):
        self.ctx = ctx
        self.gw = gw
        self.kind = kind
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drlab-gateway"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; keep errors only
        return

    def send_response(self, code, message=None):
        self.answered_status = code
        super().send_response(code, message)

    def setup(self):
        try:
            self.request.settimeout(120)
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
            pass

    # --- plumbing
    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def send_raw(self, status: int, body: bytes, headers=None, ctype="application/json"):
        self.send_response(status)
        sent_type = False
        for k, v in (headers or []):
            if k.lower() in HOP_HEADERS:
                continue
            if k.lower() == "content-type":
                sent_type = True
            self.send_header(k, v)
        if body and not sent_type and ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj):
        if status == 204 or obj is None:
            self.send_raw(status if status != 200 else 204, b"")
            return
        self.send_raw(status, json.dumps(obj).encode() + b"\n")

    def send_errors(self, status: int, errors):
        self.send_json(status, {"errors": list(errors)})

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_LIST(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        gw: Gateway = self.server.gw
        t0 = time.time()
        self.answered_status = None
        self.drop_answer = False
        body = self._body()
        try:
            self._dispatch(gw, body)
        finally:
            if self.server.kind == "api" and not self.path.startswith("/drlab/"):
                parts = urlsplit(self.path)
                vpath = parts.path[4:] if parts.path.startswith("/v1/") else parts.path.lstrip("/")
                gw.log_request({"method": self.command, "path": vpath, "query": parts.query, "status": self.answered_status,
                                "time": t0, "duration": round(time.time() - t0, 3), "answered": not self.drop_answer})
            if self.drop_answer:
                # the request was processed; the client gets no HTTP response at all, only a closed connection
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _dispatch(self, gw, body: bytes):
        try:
            if self.server.kind == "cluster":
                self.cluster_dispatch(gw, body)
            else:
                self.api_dispatch(gw, body)
        except ApiError as exc:
            self.send_errors(exc.status, exc.errors)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except requests.RequestException as exc:
            self.send_errors(503, [f"drlab gateway: OpenBao is not reachable: {exc.__class__.__name__}"])
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.send_errors(500, [f"drlab gateway internal error: {exc}"])

    # --- replication channel
    def cluster_dispatch(self, gw: Gateway, body: bytes):
        if self.headers.get("X-Drlab-From", "") in gw.cut_peers:
            self.close_connection = True
            self.connection.close()
            return
        path = urlsplit(self.path).path
        if path == "/drlab/repl/heartbeat" and self.command == "POST":
            self.send_json(200, gw.repl_heartbeat(self.headers, json.loads(body or b"{}")))
        elif path == "/drlab/repl/snapshot" and self.command == "GET":
            idx, snap = gw.repl_snapshot(self.headers)
            self.send_raw(200, snap, [("X-Drlab-Index", str(idx))], ctype="application/octet-stream")
        elif path == "/drlab/repl/bootstrap" and self.command == "POST":
            self.send_json(200, gw.repl_bootstrap(self.headers))
        else:
            self.send_errors(404, ["unsupported path"])

    # --- API
    def api_dispatch(self, gw: Gateway, body: bytes):
        parts = urlsplit(self.path)
        path = parts.path
        method = self.command
        if path == "/drlab/control":
            if not gw.secret or not secrets.compare_digest(self.headers.get("X-Drlab-Secret", ""), gw.secret):
                raise ApiError(403, "permission denied")
            self.send_json(200, gw.control(json.loads(body or b"{}")))
            return
        vpath = path[4:] if path.startswith("/v1/") else path.lstrip("/")
        delay = gw.delay_for(vpath)
        if delay > 0:
            time.sleep(delay)
        fault = gw.take_fault(method, vpath)
        if fault and fault.get("drop_answer"):
            self.drop_answer = True
            self.wfile = io.BytesIO()  # process fully, discard the answer (see dispatch)
        elif fault:
            self.send_errors(fault["status"], [fault["message"]])
            return
        if not path.startswith("/v1/") or gw.recovery:
            self.passthrough(gw, body)
            return
        token = self.headers.get("X-Vault-Token") or ""
        auth = self.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if vpath == "sys/health":
            self.health(gw, parts.query)
            return
        if vpath == "sys/seal-status" and method in ("GET", "HEAD") and gw.version_override():
            self.seal_status(gw, parts.query)
            return
        if vpath.startswith("sys/replication/"):
            self.replication(gw, method, vpath, token, self.params(body, parts.query), body)
            return
        if vpath.startswith("sys/raw"):
            # sys/raw is only served in recovery mode (as in Vault with raw_storage_endpoint off)
            raise ApiError(404, "unsupported path")
        if gw.state["mode"] == "secondary" and vpath not in SECONDARY_ALLOWED:
            raise ApiError(400, PATH_DISABLED)
        if vpath in ("sys/wrapping/unwrap", "sys/wrapping/lookup"):
            try:
                params = self.params(body, parts.query)
            except ApiError:
                params = None
            if params is not None:
                self.unwrap_translate(gw, vpath, method, params, body)
                return
        self.passthrough(gw, body)

    @staticmethod
    def params(body: bytes, query: str) -> dict:
        """Request parameters of the endpoints the gateway answers itself: JSON body, else the query string."""
        params = {}
        if body:
            try:
                params = json.loads(body)
            except ValueError as exc:
                raise ApiError(400, "failed to parse JSON input") from exc
            if not isinstance(params, dict):
                params = {}
        if not params and query:
            params = {k: v[-1] for k, v in parse_qs(query).items()}
        return params

    def unwrap_translate(self, gw: Gateway, vpath: str, method: str, params: dict, body: bytes):
        """Activation tokens are JWTs whose ``jti`` is a real OpenBao wrapping token."""
        hdr_tok = self.headers.get("X-Vault-Token") or ""
        body_tok = params.get("token") or ""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        changed = False
        for tok, where in ((hdr_tok, "header"), (body_tok, "body")):
            claims = gw.verify_jwt(tok) if tok else None
            if claims is None:
                continue
            if claims.get("exp", 0) < time.time():
                raise ApiError(400, "wrapping token is not valid or does not exist")
            changed = True
            if where == "header":
                headers = {k: v for k, v in headers.items() if k.lower() != "x-vault-token"}
                headers["X-Vault-Token"] = claims["jti"]
            else:
                params = {**params, "token": claims["jti"]}
                body = json.dumps(params).encode()
        if not changed:
            self.passthrough(gw, body)
            return
        if vpath == "sys/wrapping/unwrap" and params.get("token") and headers.get("X-Vault-Token") == params.get("token"):
            params = {k: v for k, v in params.items() if k != "token"}
            body = json.dumps(params).encode() if params else b""
        r = gw.bao.session.request(method, gw.bao.addr + "/v1/" + vpath, headers=headers, data=body or None, timeout=30)
        self.send_raw(r.status_code, r.content, [(k, v) for k, v in r.headers.items() if k.lower() not in ("content-encoding",)])

    def passthrough(self, gw: Gateway, body: bytes):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            r = gw.bao.session.request(self.command, gw.bao.addr + self.path, headers=headers, data=body or None,
                                       allow_redirects=False, stream=True, timeout=120)
        except requests.RequestException as exc:
            raise ApiError(503, f"drlab gateway: OpenBao is not reachable ({exc.__class__.__name__})") from exc
        try:
            content = r.raw.read(decode_content=False)
        finally:
            r.close()
        self.send_raw(r.status_code, content, list(r.raw.headers.items()), ctype="")

    def health(self, gw: Gateway, query: str):
        r = gw.bao.session.get(gw.bao.addr + "/v1/sys/health" + (f"?{query}" if query else ""), timeout=10)
        try:
            data = r.json()
        except ValueError:
            self.send_raw(r.status_code, r.content, list(r.headers.items()))
            return
        mode = gw.health_mode()
        if isinstance(data, dict) and "version" in data and gw.version_override():
            data["version"] = gw.version_override()
        data["replication_dr_mode"] = mode
        data["replication_performance_mode"] = "disabled"
        status = r.status_code
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        if gw.state["mode"] == "secondary" and status not in (501, 503):
            status = int(q.get("drsecondarycode", 472))
        self.send_raw(status, json.dumps(data).encode() + b"\n")

    def seal_status(self, gw: Gateway, query: str):
        """OpenBao's answer, with ``version`` replaced by the reported version when one is set."""
        r = gw.bao.session.get(gw.bao.addr + "/v1/sys/seal-status" + (f"?{query}" if query else ""), timeout=10)
        try:
            data = r.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and "version" in data:
            data["version"] = gw.version_override() or data["version"]
            self.send_raw(r.status_code, json.dumps(data).encode() + b"\n")
            return
        self.send_raw(r.status_code, r.content, [(k, v) for k, v in r.headers.items() if k.lower() not in ("content-encoding",)])

    def replication(self, gw: Gateway, method: str, vpath: str, token: str, params: dict, body: bytes):
        sub = vpath[len("sys/replication/"):]
        if sub == "status" and method in ("GET", "HEAD"):
            self.send_json(200, envelope({"dr": gw.dr_status(), "performance": {"mode": "disabled"}}))
            return
        if sub == "dr/status" and method in ("GET", "HEAD"):
            self.send_json(200, envelope(gw.dr_status()))
            return
        if sub == "performance/status" and method in ("GET", "HEAD"):
            self.send_json(200, envelope({"mode": "disabled"}))
            return
        if sub == "dr/secondary/generate-operation-token/attempt":
            if method not in ("GET", "PUT", "POST", "DELETE"):
                raise ApiError(405, "unsupported operation")
            status, content = gw.op_gen_attempt("PUT" if method == "POST" else method, token, params, body)
            self.send_raw(status, content)
            return
        if sub == "dr/secondary/generate-operation-token/update":
            if method not in ("PUT", "POST"):
                raise ApiError(405, "unsupported operation")
            status, content = gw.op_gen_update(token, params, body)
            self.send_raw(status, content)
            return
        ops = {
            "dr/primary/enable": gw.op_primary_enable,
            "dr/primary/demote": gw.op_primary_demote,
            "dr/primary/disable": gw.op_primary_disable,
            "dr/primary/secondary-token": gw.op_secondary_token,
            "dr/primary/revoke-secondary": gw.op_revoke_secondary,
            "dr/secondary/generate-public-key": gw.op_generate_public_key,
            "dr/secondary/enable": gw.op_secondary_enable,
            "dr/secondary/promote": gw.op_promote,
            "dr/secondary/disable": gw.op_secondary_disable,
            "dr/secondary/update-primary": gw.op_update_primary,
            "dr/secondary/reindex": gw.op_reindex,
            "dr/secondary/operation-token/delete": gw.op_token_delete,
        }
        fn = ops.get(sub)
        if fn is None:
            raise ApiError(404, "unsupported path")
        if method not in ("POST", "PUT"):
            raise ApiError(405, "unsupported operation")
        if gw.state["mode"] == "secondary" and sub.startswith("dr/primary/"):
            raise ApiError(400, PATH_DISABLED)
        status, obj = fn(token, params)
        self.send_json(status, obj)


def make_ctx(cfg) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg["tls_cert"], cfg["tls_key"])
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m drlab.gateway")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", required=True)
    args = ap.parse_args(argv)
    gw = Gateway(args.dir, args.name)

    def _term(signum, frame):
        gw.stop_event.set()
        for srv in gw.servers:
            threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    ready = os.path.join(gw.cdir, "gateway.ready")
    if os.path.exists(ready):
        os.unlink(ready)
    try:
        gw.bootstrap_bao()
    except Exception:
        traceback.print_exc()
        gw.stop_bao()
        return 1
    ctx = make_ctx(gw.cfg)
    api = _TLSServer(("127.0.0.1", gw.cfg["api_port"]), Handler, ctx, gw, "api")
    clu = _TLSServer(("127.0.0.1", gw.cfg["cluster_port"]), Handler, ctx, gw, "cluster")
    gw.servers = [api, clu]
    threads = [threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True) for srv in gw.servers]
    threads.append(threading.Thread(target=gw.sync_loop, daemon=True))
    for t in threads:
        t.start()
    with open(ready, "w") as fh:
        fh.write(str(os.getpid()))
    print(f"drlab gateway {gw.name}: api {gw.cfg['api_addr']} cluster {gw.cfg['cluster_addr']} bao {gw.cfg['bao_addr']}", flush=True)
    while not gw.stop_event.wait(1):
        pass
    for srv in gw.servers:
        srv.server_close()
    gw.stop_bao()
    try:
        os.unlink(ready)
    except FileNotFoundError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
