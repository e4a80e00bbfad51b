"""Texts and answer shapes shared by the gateway's modules: Vault's error texts, warnings, ApiError, Reply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

PATH_DISABLED = "path disabled in replication DR secondary mode"
NOT_SECONDARY = "Not a DR secondary."
NOT_PRIMARY = "Not a DR primary."
OP_TOKEN_MISSING = "DR operation token was not provided"  # noqa: S105 - an error message
OP_TOKEN_INVALID = "invalid DR operation token"  # noqa: S105 - an error message
PERMISSION_DENIED = "permission denied"
UNSUPPORTED_PATH = "unsupported path"
UNSUPPORTED_OPERATION = "unsupported operation"
WRAPPING_TOKEN_INVALID = "wrapping token is not valid or does not exist"  # noqa: S105 - an error message

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

# default texts of injected faults, by status
FAULT_MESSAGES = {
    412: "required index state not present",
    # Vault's own refusals (a client may send the request again): a standby that finds no active node, a quota
    503: "local node not active but active cluster node not found (drlab fault)",
    429: "rate limit quota exceeded (drlab fault)",
}


def fault_message(status: int) -> str:
    return FAULT_MESSAGES.get(status, f"drlab injected fault {status}")


class ApiError(Exception):
    """An error answer: HTTP ``status`` with Vault's ``{"errors": [...]}`` body."""

    def __init__(self, status: int, *errors: str):
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = list(errors)


Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Reply:
    """What a route answers: JSON ``obj`` (no body with 204 or None), or ``raw`` bytes as they are."""

    status: int
    obj: Any = None
    raw: bytes | None = None
    headers: Headers = field(default_factory=list)
    ctype: str = "application/json"


def envelope(data: Any = None, warnings: list[str] | None = None, wrap_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Vault's response envelope around ``data``."""
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0, "data": data,
            "wrap_info": wrap_info, "warnings": warnings, "auth": None}


@dataclass(frozen=True)
class Request:
    """One HTTP request as the routes see it."""

    method: str
    target: str  # the request target as sent: path and query
    path: str  # path only
    vpath: str  # path without /v1/ (or the leading /)
    query: str
    headers: Any  # http.client.HTTPMessage: case-insensitive .get() and .items()
    body: bytes
    token: str = ""


def vault_path(path: str) -> str:
    """``/v1/sys/health`` -> ``sys/health``; other paths lose their leading slash."""
    return path[4:] if path.startswith("/v1/") else path.lstrip("/")
