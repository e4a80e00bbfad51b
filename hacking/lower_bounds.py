"""The lower bounds of a requirements file as pip constraints (`name==lower` per `name>=lower` line).

`make matrix`'s units-lowest session (noxfile.py) installs requirements.txt under these constraints,
so the unit tests run on exactly the oldest versions the collection says it supports; the unit test
tests/unit/test_packaging.py checks every runtime requirement has both bounds. Standard library only.

Usage: python hacking/lower_bounds.py requirements.txt > constraints.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# name, then comma-separated specifiers (no extras, markers or URLs: requirements.txt has none).
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*((?:[<>=!~]=?\s*[^,\s;#]+\s*,?\s*)+)$")


def requirements(text: str) -> List[Tuple[str, Dict[str, str]]]:
    """(name, {operator: version}) for each requirement line; comments and blank lines skipped."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError("not a `name>=low,<high` requirement: %r" % line)
        specs: Dict[str, str] = {}
        for spec in match.group(2).split(","):
            spec = spec.strip()
            if spec:
                op = re.match(r"[<>=!~]=?", spec).group(0)  # type: ignore[union-attr]
                specs[op] = spec[len(op):].strip()
        out.append((match.group(1), specs))
    return out


def lower_bound(specs: Dict[str, str]) -> Optional[str]:
    return specs.get(">=") or specs.get("==")


def constraints(text: str) -> str:
    lines = []
    for name, specs in requirements(text):
        low = lower_bound(specs)
        if low is None:
            raise ValueError("%s has no lower bound (>=)" % name)
        lines.append("%s==%s" % (name, low))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.stdout.write(constraints(Path(sys.argv[1]).read_text()))
