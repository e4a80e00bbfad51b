"""Stand-ins shared by the ceremony unit tests: decode vectors' encoder, share generator, and a
stateful fake of the server side of one token-generation endpoint family."""

from __future__ import annotations

import base64
import json
import secrets
import uuid

import responses
from conftest import BASE_ARGS, fixture

from ansible_collections.vaultops.dr.plugins.module_utils import _token_generation as tg

URL = BASE_ARGS["url"]


def xor_encode(token, otp):
    """What the server does with a base62 OTP: base64 (no padding) of token XOR OTP."""
    return base64.b64encode(bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))).decode().rstrip("=")


def new_shares(n=5):
    """Real-looking Shamir shares: 33 bytes each (32-byte share + x coordinate)."""
    return [secrets.token_bytes(33) for _i in range(n)]


class FakeCeremonyServer:
    """Keeps an attempt like Vault does: one slot, a nonce, shares counted once, a wrong share
    discovered only at the threshold, flat answers. Records every request."""

    def __init__(self, rsps, base, token, shares, threshold=3, otp_length=28, gnupg_home=None, idle_fixture=None):
        self.rsps = rsps
        self.base = base
        self.token = token
        self.valid = {bytes(s) for s in shares}
        self.threshold = threshold
        self.otp_length = otp_length
        self.gnupg_home = gnupg_home
        self.idle = fixture(idle_fixture) if idle_fixture else None
        self.calls = []
        self.reset()
        rsps.add_callback(responses.GET, URL + "/v1/" + base + "/attempt", callback=self._attempt_get)
        rsps.add_callback(responses.PUT, URL + "/v1/" + base + "/attempt", callback=self._attempt_put)
        rsps.add_callback(responses.DELETE, URL + "/v1/" + base + "/attempt", callback=self._attempt_delete)
        rsps.add_callback(responses.PUT, URL + "/v1/" + base + "/update", callback=self._update)

    def reset(self):
        self.nonce = ""
        self.otp = None
        self.pgp_key = None
        self.fingerprint = ""
        self.provided = []

    def started(self, otp=None, nonce=None, provided=(), fingerprint=""):
        """Put the server in a running attempt (as another holder's earlier run would); with
        `fingerprint`, one started with a PGP key of that fingerprint (its token encrypted to it)."""
        self.nonce = nonce or str(uuid.uuid4())
        self.otp = otp
        self.fingerprint = fingerprint
        self.provided = [bytes(p) for p in provided]
        return self.nonce

    def _record(self, request):
        body = json.loads(request.body) if request.body else None
        self.calls.append((request.method, request.url.split("/v1/", 1)[1], body, request.headers.get("X-Vault-Token")))

    def _view(self, **extra):
        view = {"started": bool(self.nonce), "nonce": self.nonce, "progress": len(self.provided),
                "required": self.threshold, "encoded_token": "", "pgp_fingerprint": self.fingerprint,
                "complete": False}
        if self.otp_length is not None:
            view["otp_length"] = self.otp_length
        view.update(extra)
        return view

    @staticmethod
    def _error(status, text):
        return (status, {}, json.dumps({"errors": [text]}))

    def _attempt_get(self, request):
        self._record(request)
        return (200, {}, json.dumps(self._view()))

    def _attempt_put(self, request):
        self._record(request)
        body = json.loads(request.body or "{}")
        if self.nonce:
            return self._error(400, "root generation already in progress")
        otp, pgp_key = body.get("otp"), body.get("pgp_key")
        if not otp and not pgp_key:
            return self._error(400, "otp or pgp_key parameter must be provided")
        if otp:
            want = self.otp_length or 24
            if len(otp) != want:
                return self._error(400, "OTP string is wrong length")
        else:
            self.pgp_key = pgp_key
            self.fingerprint = tg.normalize_pgp_key(pgp_key)[1]
        self.nonce = str(uuid.uuid4())
        self.otp = otp
        return (200, {}, json.dumps(self._view()))

    def _attempt_delete(self, request):
        self._record(request)
        self.reset()
        return (204, {}, "")

    def _update(self, request):
        self._record(request)
        body = json.loads(request.body or "{}")
        if not self.nonce:
            return self._error(400, "no root generation in progress")
        if body.get("nonce") != self.nonce:
            return self._error(400, 'incorrect nonce supplied; nonce for this root generation operation is "%s"' % self.nonce)
        key = tg.share_bytes(body.get("key") or "")
        if not key:
            return self._error(400, "'key' must be a valid hex or base64 string")
        if key in self.provided:
            return self._error(400, "given key has already been provided during this generation operation")
        self.provided.append(key)
        if len(self.provided) < self.threshold:
            return (200, {}, json.dumps(self._view()))
        if not all(p in self.valid for p in self.provided):
            self.provided = []  # as Vault and OpenBao do: progress back to 0, the attempt stays
            return self._error(400, "root generation aborted: unable to authenticate: cipher: message authentication failed")
        if self.pgp_key:
            encoded = self._pgp_encrypt()
        elif self.otp_length:
            encoded = xor_encode(self.token, self.otp)
        else:
            otp_raw = base64.b64decode(self.otp)
            encoded = base64.b64encode(bytes(a ^ b for a, b in zip(uuid.UUID(self.token).bytes, otp_raw))).decode()
        answer = self._view(complete=True, encoded_token=encoded, progress=self.threshold)
        self.reset()
        return (200, {}, json.dumps(answer))

    def _pgp_encrypt(self):
        import gnupg

        gpg = gnupg.GPG(gnupghome=self.gnupg_home)
        raw = base64.b64decode(self.pgp_key)
        fpr = gpg.import_keys(raw).fingerprints[0]
        out = gpg.encrypt(self.token.encode(), fpr, armor=False, always_trust=True)
        assert out.ok, out.status
        return base64.b64encode(out.data).decode()

    def sent(self, method=None, suffix=None):
        return [c for c in self.calls if (method is None or c[0] == method) and (suffix is None or c[1].endswith(suffix))]


# Every token-generation error text of vault-api-facts.md: where the server says it, and what
# the failure must tell the operator.
GENERATION_ERROR_CASES = [
    ("update", 400, "OTP string is wrong length", "leave otp out"),
    ("start", 400, "otp or pgp_key parameter must be provided", "OTP or a PGP key"),
    ("start", 400, "root generation already in progress", "single in-progress slot"),
    ("update", 400, "no root generation in progress", "No attempt is running any more"),
    ("update", 400, 'incorrect nonce supplied; nonce for this root generation operation is "0f6c1d5e-aaaa-bbbb-cccc-dddddddddddd"',
     "0f6c1d5e-aaaa-bbbb-cccc-dddddddddddd"),
    ("start", 400, "incorrect strategy supplied; a generate root operation of another type is already in progress", "another kind"),
    ("update", 400, "'key' must be a valid hex or base64 string", "hex or base64"),
    ("start", 400, "server is not yet initialized", "Initialise the server"),
    ("start", 400, "attempted to generate recovery operation token when already unsealed", "already unsealed"),
    ("update", 400, "root generation aborted: unable to authenticate: cipher: message authentication failed", "at least one share is wrong"),
    ("read", 503, "Vault is sealed", "Unseal the cluster"),
    ("read", 404, "unsupported path", "not running in recovery mode"),
    ("read", 403, "permission denied", "not running in recovery mode"),  # OpenBao, asked without a token
]


def stub_generation_error(vault, family, stage, status, text):
    """The server answers `text` with `status` when the attempt is read, started, or fed a share."""
    base = URL + "/v1/" + family.attempt_path
    error = {"errors": [text]}
    if stage == "read":
        vault.add(responses.GET, base, json=error, status=status)
        return
    vault.add(responses.GET, base, json=fixture("optoken_attempt_idle"))
    if stage == "start":
        vault.add(responses.PUT, base, json=error, status=status)
        return
    vault.add(responses.PUT, base, json=fixture("optoken_attempt_running"))
    vault.add(responses.PUT, URL + "/v1/" + family.update_path, json=error, status=status)
