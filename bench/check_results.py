"""`make bench-smoke`: check that the benchmark wrote its table (Markdown and JSON) with every row measured.
Checks completeness only, never a time."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def check(out_dir):
    out = Path(out_dir)
    results = json.loads((out / "rto.json").read_text())
    md = (out / "rto.md").read_text()
    problems = []
    stages = results["summary"]["stages"]
    # A smoke run (rto.py --smoke) measures the 3-cluster stage only, without the ceremony.
    smoke = results.get("smoke", False)
    for key in ("2 others",) if smoke else ("1 other", "2 others", "3 others"):
        st = stages.get(key)
        if not st or not st["playbook_whole"]["n"] or not st["bare_whole"]["n"]:
            problems.append("stage %r has no playbook or no bare run" % key)
    main = stages.get("2 others", {})
    for what in ("rerun",) if smoke else ("rerun", "ceremony"):
        if what not in main:
            problems.append("no %s measured" % what)
    for what in ("floor", "ansible"):
        if not results.get(what):
            problems.append("no %s measured" % what)
    if not smoke and "scaling" not in results["summary"]:
        problems.append("no scaling figures")
    headings = ["## RTO and the whole failover", "## Phases", "## The lab's floor", "## Goals"]
    if not smoke:
        headings.insert(2, "## 1 versus 3 other secondaries")
    for heading in headings:
        if heading not in md:
            problems.append("rto.md lacks %r" % heading)
    return problems


if __name__ == "__main__":
    found = check(sys.argv[1])
    for problem in found:
        print("bench-smoke: %s" % problem, file=sys.stderr)
    if found:
        sys.exit(1)
    print("bench-smoke: %s/rto.md and rto.json are complete" % sys.argv[1])
