"""bench/report.py: the benchmark's figures and table from made-up runs (no lab, no timing assertion)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import check_results  # noqa: E402
import report  # noqa: E402


def _bare(scale=1.0):
    marks = {"started": 0.0, "planned": 0.3, "first_write": 0.31, "promoted": 0.45, "writes_accepted": 0.46,
             "reattached": 0.46 + 0.2 * scale, "verified": 0.47 + 0.2 * scale}
    return {"marks": marks, "waits": {"re-attach": 0.15 * scale, "demote and promote": 0.1},
            "rto_seconds": 0.15, "seconds": marks["verified"]}


def _playbook(whole, rto=2.0):
    return {"wall": whole, "seconds": whole - 0.5, "rto_seconds": rto,
            "phases": {"pre-flight": 1.0, "demote and promote": rto - 0.5, "re-attach": whole / 3}}


def _results():
    stages = {}
    for key, others, whole in (("1 other", 1, 8.0), ("2 others", 2, 9.0), ("3 others", 3, 10.0)):
        stages[key] = {"others": others, "playbook": [_playbook(whole), _playbook(whole + 1)],
                       "bare": [_bare(1), _bare(1)], "rerun": []}
    stages["2 others"]["rerun"] = [{"wall": 2.5, "seconds": 2.0, "outcome": "no change", "writes": 0}]
    stages["2 others"]["ceremony"] = [_playbook(14.0)]
    return {"runs": 2, "stages": stages, "floor": {"promote_to_write": 0.15, "update_primary_to_following": 0.15,
                                                   "update_primary_to_streamed": 7.0},
            "ansible": {"empty_playbook": 0.4, "module_step_3_hosts": 0.5, "set_fact_step_3_hosts": 0.1}}


def test_ratios_overheads_and_goals():
    summary = report.summarise(_results())
    main = summary["stages"]["2 others"]
    assert main["playbook_whole"] == {"min": 9.0, "median": 9.5, "n": 2}
    assert main["rto_overhead"] == 1.85 and main["rto_ratio"] == 13.33
    assert main["phases"]["re-attach"]["bare"]["median"] == 0.2
    assert summary["scaling"]["bare_whole_3_vs_1"] == 1.0
    assert summary["scaling"]["playbook_whole_3_vs_1"] == round(10.5 / 8.5, 2)
    goals = summary["goals"]
    assert goals["idempotent re-run, 3 clusters"]["met"]
    # Ansible's step cost equals the reference here: the projection is the measurement.
    assert summary["projection"] == {"factor": 1.0, "rto_overhead": 1.85, "whole": 9.5, "rerun": 2.5}
    assert not goals["RTO overhead (playbook - bare), 3 clusters"]["met"]


def test_table_has_every_section(tmp_path):
    results = _results()
    results["summary"] = report.summarise(results)
    md = report.render_markdown(results)
    assert "| 3 (2 others) |" in md and "| re-attach |" in md and "0 write call(s)" in md
    import json
    (tmp_path / "rto.json").write_text(json.dumps(results))
    (tmp_path / "rto.md").write_text(md)
    assert check_results.check(tmp_path) == []


def test_smoke_run_needs_only_the_3_cluster_stage(tmp_path):
    import json
    results = _results()
    results["smoke"] = True
    del results["stages"]["1 other"], results["stages"]["3 others"], results["stages"]["2 others"]["ceremony"]
    results["summary"] = report.summarise(results)
    md = report.render_markdown(results)
    assert "Smoke run" in md and "## 1 versus 3 other secondaries" not in md
    (tmp_path / "rto.json").write_text(json.dumps(results))
    (tmp_path / "rto.md").write_text(md)
    assert check_results.check(tmp_path) == []
    # The same results without the smoke mark miss the full run's stages.
    results["smoke"] = False
    (tmp_path / "rto.json").write_text(json.dumps(results))
    assert "stage '1 other' has no playbook or no bare run" in check_results.check(tmp_path)
