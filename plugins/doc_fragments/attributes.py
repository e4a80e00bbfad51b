# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the cluster.
  diff_mode:
    description: Will return details on what has changed (or would change in check mode) when in diff mode.
  idempotent:
    description:
      - When run twice in a row with the same arguments, the second run reports no change and sends no write request.
  action_group:
    description: Use C(group/vaultops.dr.dr) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - vaultops.dr.dr
"""

    # For modules that never change anything.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module never changes anything.
  diff_mode:
    support: N/A
    details: This module never changes anything.
  idempotent:
    support: full
"""

    # For state-changing modules.
    STATE_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the DR mode before and after, and whichever of these the change alters - the replication
        state, the primary the cluster follows, the primary's known secondaries.
  idempotent:
    support: full
"""
