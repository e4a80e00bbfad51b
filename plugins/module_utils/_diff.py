# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before/after diffs of what a module changes, field by field (the shape of community.docker's
DifferenceTracker): a field is added with its value before and its predicted value after, and
only the fields that really change (plus those marked `always`) end up in the diff.

No Ansible imports. Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple


class DifferenceTracker:
    """Collects (name, before, after) and renders Ansible's `diff` dict."""

    def __init__(self) -> None:
        self._fields: List[Tuple[str, Any, Any, bool]] = []

    def add(self, name: str, before: Any, after: Any, always: bool = False) -> None:
        """Track `name`. `always`: show it even when it does not change (the field the diff is about)."""
        self._fields.append((name, before, after, always))

    def has_difference_for(self, name: str) -> bool:
        return any(n == name and b != a for n, b, a, _always in self._fields)

    @property
    def has_differences(self) -> bool:
        return any(b != a for _n, b, a, _always in self._fields)

    def _shown(self) -> List[Tuple[str, Any, Any, bool]]:
        return [f for f in self._fields if f[3] or f[1] != f[2]]

    def get_before(self) -> Dict[str, Any]:
        return {name: before for name, before, _after, _always in self._shown()}

    def get_after(self) -> Dict[str, Any]:
        return {name: after for name, _before, after, _always in self._shown()}

    def as_diff(self) -> Dict[str, Dict[str, Any]]:
        return {"before": self.get_before(), "after": self.get_after()}
