# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP client for every module: TLS, namespace, Vault's error envelope, and retries
that know which requests may be sent twice.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import urljoin, urlsplit

from ansible_collections.vaultops.dr.plugins.module_utils._vault_errors import NOT_ACTED, find

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module base class
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

# Answers a read may be sent again after: 412 right after a promotion (index not yet present), 429 rate
# limited, 503 sealed, standby or catching up, and 502/504 from a load balancer in front of the cluster.
# A write answered with one of these was refused only when Vault's own error body says so (a load balancer
# answers them too, possibly after Vault acted): otherwise its answer is lost, and it is never sent again.
TRANSIENT_STATUSES = frozenset((412, 429, 502, 503, 504))
READ_METHODS = frozenset(("GET", "LIST", "HEAD"))
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 3
# Vault's answers here are a few KiB (a DR status with many secondaries stays far below): anything larger is
# not Vault, and is not read into memory.
MAX_BODY_BYTES = 4 * 1024 * 1024
# How many of Vault's `errors` (and how much of each) go into a message.
MAX_ERRORS_SHOWN = 5
MAX_ERROR_CHARS = 300
# Vault Enterprise serves these only from the root namespace ("restricted endpoints"): a namespace
# header there makes Vault look for them in the namespace and fail.
ROOT_NAMESPACE_PATHS = ("sys/replication/", "sys/generate-root/", "sys/generate-recovery-token/",
                        "sys/health", "sys/seal-status", "sys/seal", "sys/unseal", "sys/leader")


def root_namespace_only(path: str) -> bool:
    """True for a path Vault serves only from the root namespace (never sent with X-Vault-Namespace)."""
    path = path.lstrip("/").split("?")[0]
    return any(path.startswith(p) if p.endswith("/") else (path == p or path.startswith(p + "/"))
               for p in ROOT_NAMESPACE_PATHS)


class VaultError(Exception):
    """A request the cluster refused, or that never got an answer.

    `status` is the HTTP status (None when no answer came), `errors` Vault's `errors` list.
    The message never holds request bodies, so it cannot leak a secret that was sent.
    """

    def __init__(self, method: str, path: str, status: Optional[int] = None, errors: Optional[List[str]] = None,
                 url: Optional[str] = None, reason: Optional[str] = None) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.errors = list(errors or [])
        self.url = url
        self.reason = reason
        super().__init__(self.describe())

    def describe(self) -> str:
        where = "%s %s" % (self.method, self.path)
        if self.url:
            where += " on %s" % self.url
        if self.status is None:
            return "%s got no answer: %s" % (where, self.reason or "connection failed")
        detail = shown_errors(self.errors) if self.errors else (self.reason or "no error text")
        return "%s answered HTTP %s: %s" % (where, self.status, detail)

    def has_error(self, text: str) -> bool:
        """True when one of Vault's error strings contains `text` (case-insensitive)."""
        text = text.lower()
        return any(text in e.lower() for e in self.errors)


def shown_errors(errors: Iterable[Any]) -> str:
    """Vault's `errors` for a message: the first few, each cut short (a hostile server's list stays bounded)."""
    errors = [str(e) for e in errors]
    shown = [e if len(e) <= MAX_ERROR_CHARS else e[:MAX_ERROR_CHARS] + "..." for e in errors[:MAX_ERRORS_SHOWN]]
    more = len(errors) - len(shown)
    return "; ".join(shown) + (" (and %d more)" % more if more > 0 else "")


class VaultConnectionError(VaultError):
    """No connection could be made: the request was never sent."""


class VaultAnswerLost(VaultError):
    """A state-changing request was sent but its answer was lost: a timeout or reset after sending, or a
    502/503/504 that is not Vault's own refusal (a load balancer's page may come after Vault acted).

    It is never replayed: the caller reads status to learn whether it took effect.
    """

    def describe(self) -> str:
        if self.status is None:
            return super().describe()
        said = shown_errors(self.errors) if self.errors else (self.reason or "no error text")
        fields = (self.method, self.path, self.url, self.status, said)
        return ("%s %s on %s answered HTTP %s (%s), which is not a refusal of Vault's that proves it did not act: a "
                "load balancer or proxy may answer so after Vault acted" % fields)


class VaultRedirectRefused(VaultError):
    """A 3xx whose Location is not one of this cluster's addresses (or goes from https to http): not followed,
    so the token and the body went nowhere else."""

    def __init__(self, method: str, path: str, status: int, location: str, url: str, why: str) -> None:
        self.location = location
        self.why = why
        super().__init__(method, path, status=status, url=url)

    def describe(self) -> str:
        fields = (self.method, self.path, self.url, self.status, self.location, self.why)
        return ("%s %s on %s answered HTTP %s with Location %s, not followed: %s. The token and the request body "
                "were sent to no other address" % fields)


# OpenSSL's words for failures of the handshake, before any byte of the request is sent. Any other TLS
# error (an EOF, a bad record) may come after the request went out: a lost answer for a write.
_HANDSHAKE_FAILURES = (
    "certificate verify failed", "certificate_verify_failed", "wrong version number", "wrong_version_number",
    "handshake failure", "sslv3 alert", "tlsv1 alert", "unknown protocol", "unsupported protocol",
    "no protocols available", "record layer failure", "packet length too long", "http_request",
    "hostname mismatch", "address mismatch", "doesn't match", "does not match", "unknown ca", "bad certificate",
    "no shared cipher", "certificate has expired",
)


def tls_handshake_failed(exc: BaseException) -> bool:
    """True for a requests SSLError that OpenSSL raised during the handshake (nothing was sent)."""
    text = str(exc).lower()
    return isinstance(exc, requests.exceptions.SSLError) and any(n in text for n in _HANDSHAKE_FAILURES)


def _never_sent(exc: BaseException) -> bool:
    """True when a requests exception proves the request never left this host."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_handshake_failed(exc)
    if isinstance(exc, requests.exceptions.ConnectionError):
        seen = set()
        pending: List[Any] = [exc]
        while pending:
            cur = pending.pop()
            if cur is None or id(cur) in seen:
                continue
            seen.add(id(cur))
            if type(cur).__name__ in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"):
                return True
            linked = [getattr(cur, "reason", None), cur.__cause__, cur.__context__] + list(getattr(cur, "args", ()))
            pending.extend(a for a in linked if isinstance(a, BaseException))
    return False


class VaultResponse:
    """The parts of an answer modules use: HTTP status, parsed JSON body (or None), warnings."""

    def __init__(self, status: Optional[int], body: Any) -> None:
        self.status = status
        self.body: Optional[Dict[str, Any]] = body if isinstance(body, dict) else None
        self.warnings: List[str] = list((self.body or {}).get("warnings") or [])

    @property
    def data(self) -> Dict[str, Any]:
        """Vault's `data` envelope when present, else the flat body (legacy endpoints)."""
        if self.body is None:
            return {}
        data = self.body.get("data")
        return data if isinstance(data, dict) else self.body


def origin(address: str) -> Tuple[str, str, int]:
    """An address as (scheme, host, port), the default port filled in: what redirects are compared by."""
    parts = urlsplit(address.strip())
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def vault_refused(body: Any) -> bool:
    """True when an error body is Vault's own and one of its `errors` proves Vault did not act."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and find(errors, area=NOT_ACTED) is not None


class VaultClient:
    """HTTP access to one Vault cluster.

    `token_source` is a callable returning a Vault token (it may log in lazily), so modules
    that run against DR secondaries, where no login is possible, never try one.
    `nodes` are the cluster's node API addresses: with `url`, the only places a redirect is followed to.
    """

    def __init__(self, url: str, ca_cert: Optional[str] = None, validate_certs: bool = True, timeout: float = 30,
                 retries: int = 3, namespace: Optional[str] = None,
                 token_source: Optional[Callable[..., Optional[str]]] = None, retry_delay: float = 1.0,
                 session: Any = None, nodes: Optional[Iterable[str]] = None) -> None:
        self.url = url.rstrip("/")
        self.nodes = [n.rstrip("/") for n in (nodes or [])]
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.namespace = namespace or None
        self.retry_delay = retry_delay
        self.token_source = token_source
        self.warnings: List[str] = []
        self.write_count = 0
        self.session = session or requests.Session()
        if not validate_certs:
            self.session.verify = False
        elif ca_cert:
            self.session.verify = ca_cert
        # requests' own retries would replay POSTs blindly; this class decides instead.
        self.session.mount("https://", HTTPAdapter(max_retries=0))
        self.session.mount("http://", HTTPAdapter(max_retries=0))

    # -- public verbs -------------------------------------------------------------
    def read(self, path: str, params: Optional[Dict[str, Any]] = None, auth: str = "required") -> VaultResponse:
        return self.request("GET", path, params=params, auth=auth)

    def write(self, path: str, data: Optional[Dict[str, Any]] = None, auth: str = "required", method: str = "POST",
              wrap_ttl: Optional[str] = None, token: Optional[str] = None, retries: Optional[int] = None) -> VaultResponse:
        return self.request(method, path, data=data, auth=auth, wrap_ttl=wrap_ttl, token=token, retries=retries)

    def delete(self, path: str, auth: str = "required", token: Optional[str] = None) -> VaultResponse:
        return self.request("DELETE", path, auth=auth, token=token)

    # -- the one place requests are sent ----------------------------------------------
    def request(self, method: str, path: str, data: Optional[Dict[str, Any]] = None,
                params: Optional[Dict[str, Any]] = None, auth: str = "required", wrap_ttl: Optional[str] = None,
                token: Optional[str] = None, retries: Optional[int] = None) -> VaultResponse:
        """Send one request; return a VaultResponse or raise VaultError.

        auth: "required" (a token must be sent), "optional" (sent when one is at hand
        without logging in), "none" (never sent: unauthenticated endpoints).
        token: send this token instead (e.g. a DR operation token used as a Vault token).
        retries: this request's retry budget instead of the client's (0 for a request that must
        never be sent twice, even after an answer that says it was refused).
        """
        method = method.upper()
        path = path.lstrip("/")
        headers: Dict[str, str] = {}
        tok = token or self._token_for(auth)
        if tok:
            headers["X-Vault-Token"] = tok
        if self.namespace and not root_namespace_only(path):
            headers["X-Vault-Namespace"] = self.namespace
        if wrap_ttl:
            headers["X-Vault-Wrap-TTL"] = str(wrap_ttl)
        is_read = method in READ_METHODS
        budget = self.retries if retries is None else max(0, int(retries))
        if not is_read:
            self.write_count += 1
        body = json.dumps(data) if data is not None else None
        attempt = 0
        while True:
            attempt += 1
            try:
                status, payload, text = self._send(method, path, headers, body, params)
            except requests.exceptions.RequestException as exc:
                never_sent = _never_sent(exc)
                reason = self._reason(exc)
                handshake = tls_handshake_failed(exc)  # a certificate or protocol problem: sending again won't help
                if (is_read or never_sent) and attempt <= budget and not handshake:
                    self._sleep(attempt)
                    continue
                if never_sent or is_read:
                    raise VaultConnectionError(method, path, url=self.url, reason=reason) from None
                raise VaultAnswerLost(method, path, url=self.url, reason=reason) from None
            if status in TRANSIENT_STATUSES:
                refused = is_read or vault_refused(payload)
                if refused and attempt <= budget:
                    self._sleep(attempt)
                    continue
                if not refused:
                    errors = payload.get("errors") if isinstance(payload, dict) else None
                    raise VaultAnswerLost(method, path, status=status, url=self.url,
                                          errors=errors if isinstance(errors, list) else None,
                                          reason=" ".join((text or "").split())[:100] or None)
            return self._parse(method, path, status, payload, text)

    # -- helpers ------------------------------------------------------------------
    def _token_for(self, auth: str) -> Optional[str]:
        if auth == "none" or self.token_source is None:
            return None
        return self.token_source(required=(auth == "required"))

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self.retry_delay * (2 ** (attempt - 1)), 10))

    @staticmethod
    def _reason(exc: BaseException) -> str:
        # Connection errors repeat the URL and pool details; the class name and the last
        # line say what happened without echoing anything that was sent.
        text = str(exc).splitlines()[-1] if str(exc) else ""
        return "%s: %s" % (type(exc).__name__, text[:300])

    def _send(self, method: str, path: str, headers: Dict[str, str], body: Optional[str],
              params: Optional[Dict[str, Any]]) -> Tuple[int, Any, str]:
        """One attempt: (status, parsed JSON or None, text), following a redirect only to this cluster."""
        target = "%s/v1/%s" % (self.url, path)
        deadline = time.monotonic() + self.timeout
        for _hop in range(MAX_REDIRECTS + 1):
            resp = self.session.request(
                method, target, headers=headers, data=body, params=params, allow_redirects=False, stream=True,
                timeout=self._remaining(deadline),
                # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override
                # session.verify, which would ignore ca_cert and validate_certs=false.
                verify=self.session.verify,
            )
            try:
                if resp.status_code in REDIRECT_STATUSES and resp.headers.get("Location"):
                    target = self._redirect_target(method, path, resp, target)
                    params = None  # the Location carries the query
                    continue
                raw = self._bounded_body(method, path, resp, deadline)
            finally:
                resp.close()
            text = raw.decode("utf-8", "replace")
            try:
                payload = json.loads(text) if raw else None
            except ValueError:
                payload = None
            return resp.status_code, payload, text
        raise VaultError(method, path, status=resp.status_code, url=self.url,
                         reason="more than %d redirects in a row" % MAX_REDIRECTS)

    def _redirect_target(self, method: str, path: str, resp: Any, current: str) -> str:
        """Where a 3xx may be followed: only to `url` or `nodes`, never from https to http, and for a write only
        on 307/308 (which keep the method and body)."""
        location = urljoin(current, resp.headers["Location"])
        shown = location.split("?")[0]  # a query may hold anything: never in a message
        allowed = {origin(a) for a in [self.url] + self.nodes}
        to = origin(location)
        why = None
        if origin(current)[0] == "https" and to[0] != "https":
            why = "it goes from https to %s, and the token would cross the network in plaintext" % (to[0] or "?")
        elif to not in allowed:
            why = ("it is neither url nor one of nodes. If it is one of this cluster's nodes, list every node's API "
                   "address in nodes (vault_nodes in the inventory); otherwise check what answers on url")
        elif method not in READ_METHODS and resp.status_code not in (307, 308):
            why = "a %s redirect would turn the %s into a GET" % (resp.status_code, method)
        if why:
            raise VaultRedirectRefused(method, path, resp.status_code, shown, self.url, why)
        return location

    def _bounded_body(self, method: str, path: str, resp: Any, deadline: float) -> bytes:
        """The body, read within the request's deadline and at most MAX_BODY_BYTES."""
        chunks: List[bytes] = []
        size = 0
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise VaultError(method, path, status=resp.status_code, url=self.url,
                                 reason="the answer is larger than %d bytes: not Vault's" % MAX_BODY_BYTES)
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout("the whole answer took longer than timeout=%ss" % self.timeout)
            chunks.append(chunk)
        return b"".join(chunks)

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise requests.exceptions.ReadTimeout("the answer took longer than timeout=%ss" % self.timeout)
        return remaining

    def _parse(self, method: str, path: str, status: int, body: Any, text: str) -> VaultResponse:
        if status >= 400 and status != 472:
            errors = body.get("errors") if isinstance(body, dict) else None
            if not errors and text and body is None:
                errors = [text.strip()[:MAX_ERROR_CHARS]]
            raise VaultError(method, path, status=status, errors=errors, url=self.url)
        result = VaultResponse(status, body)
        self.warnings.extend(w for w in result.warnings if w not in self.warnings)
        return result
