"""The benchmark's figures and its Markdown table, as pure functions of the measured runs (rto.py's results)."""

from __future__ import annotations

import statistics

PHASES = ["pre-flight", "drain and op token", "catch-up", "demote and promote", "first write accepted", "traffic",
          "re-attach", "verify", "dispose and report"]
# The bare script's marks, as the role's phases.
BARE_PHASES = {"pre-flight": ("started", "planned"), "catch-up": ("planned", "first_write"),
               "demote and promote": ("first_write", "promoted"),
               "first write accepted": ("promoted", "writes_accepted"),
               "re-attach": ("writes_accepted", "reattached"), "verify": ("reattached", "verified")}
# The reference figures for Ansible itself (a quiet machine): what "here" is compared with.
REFERENCE = {"empty_playbook": 0.40, "module_step_3_hosts": 0.5}
GOALS = {"rto_overhead": 1.5, "whole": 8.0, "rerun": 3.0, "ceremony": 15.0, "scaling_vs_bare": 1.3}


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"min": None, "median": None, "n": 0}
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "n": len(values)}


def bare_phases(run):
    m = run["marks"]
    return {name: round(m[b] - m[a], 4) for name, (a, b) in BARE_PHASES.items()}


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def diff(a, b):
    return round(a - b, 3) if a is not None and b is not None else None


def summarise_stage(st):
    pb, br = st.get("playbook", []), st.get("bare", [])
    out = {
        "others": st.get("others"),
        "playbook_whole": stats([r["wall"] for r in pb]),
        "playbook_report_seconds": stats([r["seconds"] for r in pb]),
        "playbook_rto": stats([r["rto_seconds"] for r in pb]),
        "bare_whole": stats([r["seconds"] for r in br]),
        "bare_rto": stats([r["rto_seconds"] for r in br]),
        "phases": {},
    }
    for name in PHASES:
        p = stats([r["phases"].get(name) for r in pb])
        b = stats([bare_phases(r).get(name, 0.0) for r in br])
        floor = stats([r["waits"].get(name, 0.0) for r in br])
        out["phases"][name] = {"playbook": p, "bare": b, "server_wait": floor,
                               "overhead": diff(p["median"], b["median"] or 0.0)}

    def med(key):
        return out[key]["median"]

    out["rto_ratio"] = ratio(med("playbook_rto"), med("bare_rto"))
    out["whole_ratio"] = ratio(med("playbook_whole"), med("bare_whole"))
    out["rto_overhead"] = diff(med("playbook_rto"), med("bare_rto"))
    out["whole_overhead"] = diff(med("playbook_whole"), med("bare_whole"))
    steps = [r["task_steps"] for r in pb if r.get("task_steps")]
    out["task_steps"] = max(steps) if steps else None
    if st.get("rerun"):
        out["rerun"] = {"wall": stats([r["wall"] for r in st["rerun"]]),
                        "task_steps": max([r.get("task_steps") or 0 for r in st["rerun"]]) or None,
                        "writes_max": max(r["writes"] for r in st["rerun"]),
                        "outcomes": sorted({r["outcome"] for r in st["rerun"]})}
    if st.get("ceremony"):
        out["ceremony"] = {"wall": stats([r["wall"] for r in st["ceremony"]]),
                           "rto": stats([r["rto_seconds"] for r in st["ceremony"]]),
                           "phases": dict(st["ceremony"][0]["phases"])}
    return out


def summarise(results):
    stages = {key: summarise_stage(st) for key, st in results.get("stages", {}).items()}
    out = {"stages": stages}
    one, three = stages.get("1 other"), stages.get("3 others")
    if one and three:
        pb = ratio(three["playbook_whole"]["median"], one["playbook_whole"]["median"])
        br = ratio(three["bare_whole"]["median"], one["bare_whole"]["median"])
        pr = ratio(three["phases"]["re-attach"]["playbook"]["median"], one["phases"]["re-attach"]["playbook"]["median"])
        brr = ratio(three["phases"]["re-attach"]["bare"]["median"], one["phases"]["re-attach"]["bare"]["median"])
        out["scaling"] = {"playbook_whole_3_vs_1": pb, "bare_whole_3_vs_1": br,
                          "playbook_vs_bare": ratio(pb, br),
                          "playbook_reattach_3_vs_1": pr, "bare_reattach_3_vs_1": brr}
    main = stages.get("2 others")
    ans = results.get("ansible") or {}
    if main and ans.get("module_step_3_hosts"):
        # Ansible's cost scales with the machine's load; the servers' hardly. The overheads at the reference's
        # per-step cost: a projection of what these cores allow when idle, never a measurement.
        factor = REFERENCE["module_step_3_hosts"] / ans["module_step_3_hosts"]
        rr = main.get("rerun", {}).get("wall", {}).get("median")
        out["projection"] = {
            "factor": round(factor, 3),
            "rto_overhead": round(main["rto_overhead"] * factor, 2) if main["rto_overhead"] is not None else None,
            "whole": round(main["bare_whole"]["median"] + main["whole_overhead"] * factor, 2)
            if main["whole_overhead"] is not None else None,
            "rerun": round(rr * factor, 2) if rr is not None else None,
        }
    if main:
        goals = {
            "RTO overhead (playbook - bare), 3 clusters": (main["rto_overhead"], GOALS["rto_overhead"]),
            "whole planned failover (playbook), 3 clusters": (main["playbook_whole"]["median"], GOALS["whole"]),
        }
        if "rerun" in main:
            goals["idempotent re-run, 3 clusters"] = (main["rerun"]["wall"]["median"], GOALS["rerun"])
        if "ceremony" in main:
            goals["ceremony 3 of 5 on every cluster that needs one"] = (main["ceremony"]["wall"]["median"],
                                                                        GOALS["ceremony"])
        if "scaling" in out:
            goals["1 vs 3 other secondaries, playbook ratio / bare ratio"] = (out["scaling"]["playbook_vs_bare"],
                                                                              GOALS["scaling_vs_bare"])
        out["goals"] = {k: {"measured": v, "goal": g, "met": v is not None and v <= g} for k, (v, g) in goals.items()}
    return out


def _s(value, unit=" s"):
    return "–" if value is None else ("%.2f%s" % (value, unit))


def _mm(st, unit=" s"):
    return "%s / %s" % (_s(st["min"], unit), _s(st["median"], unit)) if st.get("n") else "–"


def render_markdown(results):
    summary = results.get("summary") or summarise(results)
    machine = results.get("machine", {})
    lines = ["# RTO benchmark (`make bench`)", "",
             "drlab, planned failover a -> b with a batch DR operation token; %s run(s) each of the playbook and the "
             "bare script per stage, alternating. Cells: min / median. Machine: %s cores, load average %s before, "
             "%s after; ansible-core %s; %s; the benchmark took %s s." % (
                 results.get("runs"), machine.get("cpus"), machine.get("loadavg_before"), machine.get("loadavg_after"),
                 machine.get("ansible_core"), machine.get("date"), results.get("bench_seconds")), ""]
    if results.get("smoke"):
        lines += ["Smoke run (`rto.py --smoke`, `make bench-smoke`): the 3-cluster stage only, without the ceremony "
                  "and the 1-vs-3 stages; it shows the benchmark works, `make bench` measures.", ""]
    lines += ["## RTO and the whole failover", "",
              "| clusters | playbook RTO | bare RTO | RTO ratio | RTO overhead | playbook whole | bare whole | "
              "whole ratio | whole overhead |", "|---|---|---|---|---|---|---|---|---|"]
    for key, st in summary["stages"].items():
        lines.append("| %d (%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            st["others"] + 1, key, _mm(st["playbook_rto"]), _mm(st["bare_rto"]), _s(st["rto_ratio"], "×"),
            _s(st["rto_overhead"]), _mm(st["playbook_whole"]), _mm(st["bare_whole"]), _s(st["whole_ratio"], "×"),
            _s(st["whole_overhead"])))
    lines += ["", "RTO: from the demotion (the first write that takes service away) to the new primary accepting a "
              "write. Playbook whole: the `ansible-playbook` process, start-up included; bare whole: the script's "
              "sequence (pre-flight reads to the new primary healthy with every cluster re-attached).", ""]
    main = summary["stages"].get("2 others")
    if main:
        lines += ["## Phases, 3 clusters (2 others)", "",
                  "| phase | playbook | bare script | servers (bare's waits) | overhead (median) |",
                  "|---|---|---|---|---|"]
        for name in PHASES:
            ph = main["phases"][name]
            lines.append("| %s | %s | %s | %s | %s |" % (name, _mm(ph["playbook"]), _mm(ph["bare"]),
                                                         _mm(ph["server_wait"]), _s(ph["overhead"])))
        lines.append("")
        if main.get("task_steps"):
            lines += ["Task steps in one playbook run (the bench_timer callback's count, skipped ones included): "
                      "%d; in the re-run: %s." % (main["task_steps"], (main.get("rerun") or {}).get("task_steps")), ""]
        if "rerun" in main:
            rr = main["rerun"]
            lines += ["**Playbook again on the failed-over lab:** %s (min / median), %d write call(s) counted by the "
                      "lab (most in one run), outcome %s." % (_mm(rr["wall"]), rr["writes_max"],
                                                              ", ".join(rr["outcomes"])), ""]
        if "ceremony" in main:
            ce = main["ceremony"]
            lines += ["**3-of-5 ceremony on every cluster that needs one** (no batch token): whole %s, RTO %s; "
                      "phases: %s." % (_mm(ce["wall"]), _mm(ce["rto"]),
                                       ", ".join("%s %.2f s" % kv for kv in ce["phases"].items())), ""]
    if "scaling" in summary:
        sc = summary["scaling"]
        lines += ["## 1 versus 3 other secondaries", "",
                  "| | 3 others / 1 other (whole) | 3 others / 1 other (re-attach phase) |", "|---|---|---|",
                  "| playbook | %s | %s |" % (_s(sc["playbook_whole_3_vs_1"], "×"), _s(sc["playbook_reattach_3_vs_1"], "×")),
                  "| bare script | %s | %s |" % (_s(sc["bare_whole_3_vs_1"], "×"), _s(sc["bare_reattach_3_vs_1"], "×")),
                  "", "Playbook ratio / bare ratio: %s." % _s(sc["playbook_vs_bare"], "×"), ""]
    floor = results.get("floor") or {}
    if floor:
        lines += ["## The lab's floor (servers only)", "",
                  "| what | seconds |", "|---|---|",
                  "| promote -> first accepted write | %s |" % _s(floor.get("promote_to_write")),
                  "| update-primary -> the secondary follows the new primary, healthy (status) | %s |"
                  % _s(floor.get("update_primary_to_following")),
                  "| update-primary -> every re-attached secondary serves the new primary's data (snapshot "
                  "shipped and restored) | %s |" % _s(floor.get("update_primary_to_streamed")), "",
                  "Both the role and the bare script wait for the second row: drlab reports a re-attached secondary "
                  "`merkle-sync` until its first restore from the new primary (one raft snapshot, then OpenBao's "
                  "fixed ~5.5 s before it serves restored data). That is drlab's replication lag, not the "
                  "collection's: it is in the re-attach phase of both columns.", ""]
    ans = results.get("ansible") or {}
    if ans:
        lines += ["## Ansible's own cost here", "",
                  "Empty `ansible-playbook` run (one play, 3 local hosts, no task): %s; one module step "
                  "(`dr_status`) on 3 local hosts: %s; one `set_fact` step on 3 hosts: %s (medians)." % (
                      _s(ans.get("empty_playbook")), _s(ans.get("module_step_3_hosts")),
                      _s(ans.get("set_fact_step_3_hosts"))),
                  "", "Against the reference (%.2f s empty run, ~%.1f s per module step on 3 local hosts), Ansible "
                  "ran %s / %s slower here: the playbook's figures above carry that factor, the bare script's "
                  "hardly." % (REFERENCE["empty_playbook"], REFERENCE["module_step_3_hosts"],
                               _s(ratio(ans.get("empty_playbook"), REFERENCE["empty_playbook"]), "×"),
                               _s(ratio(ans.get("module_step_3_hosts"), REFERENCE["module_step_3_hosts"]), "×")), ""]
        pr = summary.get("projection")
        if pr:
            lines += ["Projection, not a measurement: with Ansible's per-step cost at the reference (this run's "
                      "overheads × %.2f; the bare script's time as measured), 3 clusters: RTO overhead %s, whole "
                      "failover %s, re-run %s." % (pr["factor"], _s(pr["rto_overhead"]), _s(pr["whole"]),
                                                   _s(pr["rerun"])), ""]
    if summary.get("goals"):
        lines += ["## Goals", "", "| goal | measured | target | met |", "|---|---|---|---|"]
        for name, g in summary["goals"].items():
            unit = "×" if "ratio" in name else " s"
            met = "yes" if g["met"] else "no"
            lines.append("| %s | %s | ≤ %s | %s |" % (name, _s(g["measured"], unit), _s(g["goal"], unit), met))
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    # Render an rto.json again (after a change to this file): python bench/report.py bench/results
    import json
    import sys
    from pathlib import Path

    out = Path(sys.argv[1])
    data = json.loads((out / "rto.json").read_text())
    data["summary"] = summarise(data)
    (out / "rto.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    (out / "rto.md").write_text(render_markdown(data))
    print((out / "rto.md").read_text())
