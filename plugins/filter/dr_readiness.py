# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dr_readiness
short_description: Judge whether a DR failover would work now, from what the readiness role read
version_added: 1.0.0
description:
  - Takes, per cluster, the reads the C(vaultops.dr.readiness) role gathers (DR status and version, performance
    replication mode, C(sys/leader), the open key-share generation attempt) and the lookup of the batch DR operation
    token on the primary, and returns the verdict - V(ready), or V(not ready) with the reasons - with warnings
    (worth knowing, not blocking) and notes (checks the server could not answer).
  - Never sees a token - the role passes the lookup's type, TTL, expiry and policies, not the token.
options:
  _input:
    description:
      - Host name to reads - C(dr) (the registered M(vaultops.dr.dr_status) result, registered with
        C(failed_when=false)), C(addr), C(cluster_addr), and the registered M(ansible.builtin.uri) results
        C(replication) (C(sys/replication/status)), C(leader) (C(sys/leader)) and C(attempt) (with C(path)).
    type: dict
    required: true
  token:
    description:
      - Omit (or V({})) when no batch DR operation token was given. Else C({host, lookup, capabilities}), the
        C(auth/token/lookup) and C(sys/capabilities) answers on the primary, without the token itself.
    type: dict
  max_wal_lag:
    description: WAL entries a secondary may be behind the primary.
    type: int
    default: 100
  max_clock_skew_ms:
    description: The largest C(clock_skew_ms) allowed between the primary and a secondary.
    type: int
    default: 1000
  max_heartbeat_age:
    description: Seconds since a secondary's last heartbeat.
    type: int
    default: 60
  min_token_ttl:
    description: The batch token's TTL must be above this (a Vault duration).
    type: str
    default: 24h
  now:
    description: The time of the check, epoch seconds (default - now).
    type: float
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Judge the DR set
  ansible.builtin.set_fact:
    readiness_report: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'reads')))
         | vaultops.dr.dr_readiness(max_wal_lag=100, now=now().timestamp()) }}
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - C(verdict) (V(ready) or V(not ready)), C(ready), C(primary), C(reasons), C(warnings), C(notes) (lists of
      sentences), C(reason_codes), C(findings) (C({level, code, cluster, message})), C(clusters) (per-cluster
      view), C(token), C(topology), C(bounds), C(summary) (lines of text), C(checked_at).
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.vaultops.dr.plugins.module_utils._readiness import judge  # noqa: E402


def dr_readiness(clusters, token=None, max_wal_lag=100, max_clock_skew_ms=1000, max_heartbeat_age=60,
                 min_token_ttl="24h", now=None):  # noqa: S107 - a duration
    """`reads | vaultops.dr.dr_readiness(...)`."""
    try:
        return judge(clusters, token=token if isinstance(token, dict) and token else None, max_wal_lag=int(max_wal_lag),
                     max_clock_skew_ms=int(max_clock_skew_ms), max_heartbeat_age=int(max_heartbeat_age),
                     min_token_ttl=min_token_ttl, now=None if now is None else float(now))
    except (TypeError, ValueError) as err:
        raise AnsibleFilterError("vaultops.dr.dr_readiness: %s" % err) from err


class FilterModule:
    def filters(self):
        return {"dr_readiness": dr_readiness}
