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
from typing import Any, Callable, Dict, List, Optional

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module base class
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

# The server refused these without acting on them, so any request may be sent again:
# 412 right after a promotion (index not yet present), 429 rate limited, 503 sealed,
# standby or a promotion still catching up.
TRANSIENT_STATUSES = frozenset((412, 429, 503))
READ_METHODS = frozenset(("GET", "LIST", "HEAD"))
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
        detail = "; ".join(self.errors) if self.errors else (self.reason or "no error text")
        return "%s answered HTTP %s: %s" % (where, self.status, detail)

    def has_error(self, text: str) -> bool:
        """True when one of Vault's error strings contains `text` (case-insensitive)."""
        text = text.lower()
        return any(text in e.lower() for e in self.errors)


class VaultConnectionError(VaultError):
    """No connection could be made: the request was never sent."""


class VaultAnswerLost(VaultError):
    """A state-changing request was sent but its answer was lost (timeout, reset).

    It is never replayed: the caller reads status to learn whether it took effect.
    """


def _never_sent(exc: BaseException) -> bool:
    """True when a requests exception proves the request never left this host."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return True
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
            pending.extend([getattr(cur, "reason", None), cur.__cause__, cur.__context__])
            pending.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
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


class VaultClient:
    """HTTP access to one Vault cluster.

    `token_source` is a callable returning a Vault token (it may log in lazily), so modules
    that run against DR secondaries, where no login is possible, never try one.
    """

    def __init__(self, url: str, ca_cert: Optional[str] = None, validate_certs: bool = True, timeout: float = 30,
                 retries: int = 3, namespace: Optional[str] = None,
                 token_source: Optional[Callable[..., Optional[str]]] = None, retry_delay: float = 1.0,
                 session: Any = None) -> None:
        self.url = url.rstrip("/")
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
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.session.request(
                    method, "%s/v1/%s" % (self.url, path), headers=headers,
                    data=json.dumps(data) if data is not None else None,
                    params=params, timeout=self.timeout,
                    # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override
                    # session.verify, which would ignore ca_cert and validate_certs=false.
                    verify=self.session.verify,
                )
            except requests.exceptions.RequestException as exc:
                never_sent = _never_sent(exc)
                reason = self._reason(exc)
                if (is_read or never_sent) and attempt <= budget and not isinstance(exc, requests.exceptions.SSLError):
                    self._sleep(attempt)
                    continue
                if never_sent or is_read:
                    raise VaultConnectionError(method, path, url=self.url, reason=reason) from None
                raise VaultAnswerLost(method, path, url=self.url, reason=reason) from None
            if resp.status_code in TRANSIENT_STATUSES and attempt <= budget:
                self._sleep(attempt)
                continue
            return self._parse(method, path, resp)

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

    def _parse(self, method: str, path: str, resp: Any) -> VaultResponse:
        body = None
        if resp.content:
            try:
                body = resp.json()
            except ValueError:
                body = None
        if resp.status_code >= 400 and resp.status_code != 472:
            errors = (body or {}).get("errors") if isinstance(body, dict) else None
            if not errors and resp.content and body is None:
                errors = [resp.text.strip()[:300]]
            raise VaultError(method, path, status=resp.status_code, errors=errors, url=self.url)
        result = VaultResponse(resp.status_code, body)
        self.warnings.extend(w for w in result.warnings if w not in self.warnings)
        return result
