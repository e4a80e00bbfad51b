"""The drlab DR gateway: one process per cluster.

It owns the cluster's OpenBao server process, serves the Vault Enterprise DR replication API on the
cluster's API address (HTTPS), passes every other path to OpenBao, and runs the replication channel (raft
snapshots) on the cluster address. Run as ``python -m drlab.gateway --dir DIR --name a``.

Modules, one responsibility each:

- ``messages``: Vault's error texts and warnings, ``ApiError``, the ``Request``/``Reply`` shapes
- ``state``: the persisted DR state (``dr_state.json``) and the lab-wide settings
- ``openbao``: supervision of the OpenBao process (start, init, unseal, recovery mode, wipe)
- ``authz``: authorisation (capabilities, DR operation tokens, the Vault 2.x token requirement)
- ``crypto``: activation JWTs (ES256) and payloads sealed to a public key (X25519/HKDF/AES-GCM)
- ``activation``: activation payloads and unwrapping them on a secondary
- ``status``: DR status and health mode, as pure functions
- ``operations``: the DR operations (enable, demote, promote, update-primary, ...)
- ``generation``: the generate-operation-token proxy onto OpenBao's generate-root
- ``source`` / ``follower``: both ends of the replication channel
- ``control``: fault injection, the request log, the control API
- ``passthrough``: requests answered by OpenBao (and the few rewrites)
- ``server``: HTTP serving and the route tables; ``run``: the process; ``core``: wiring it together
"""

from .core import Gateway
from .messages import ApiError
from .run import main

__all__ = ["ApiError", "Gateway", "main"]
