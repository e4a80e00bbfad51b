"""RTO benchmark (`make bench`): the failover playbook against a bare `requests` script, on one drlab.

    python bench/rto.py --dir DIR --base-port 33000 --runs 3 --out bench/results

In one process tree on one drlab (4 clusters, a..d):

1. stage "1 other" (a, b): DR set up from a; runs alternate, same direction a -> b: the playbook
   (`vaultops.dr.failover`, timed, phases from its own `failover_report`), then the bare script
   (`bare_failover.py`, timed); between runs the direction is reset b -> a by the bare script (untimed) and the
   lab left to settle (every secondary serving its primary's current data);
2. stage "2 others" (a, b, c): the same, plus after each playbook run the playbook again on the failed-over lab
   (writes counted by the lab), one run with a 3-of-5 ceremony on every cluster that needs one, and the lab's
   own floor (how long promote takes to serve, how long a re-attached secondary takes to stream);
3. stage "3 others" (a, b, c, d): the same alternating runs;
4. Ansible's own cost here: an empty `ansible-playbook` run, one module step and one set_fact step on 3 hosts.

Then prints the table and writes it as Markdown and JSON to --out. Timings only; nothing here asserts a time.

--smoke (`make bench-smoke`, in `make test`): stage "2 others" only, on a 3-cluster drlab (playbook, re-run, bare
script, the lab's floor; no ceremony, no 1-vs-3 stages) and one round of Ansible's own cost: it checks that the
benchmark runs and writes its table, in about a third of the full run's time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bare_failover as bare  # noqa: E402
from report import render_markdown, summarise  # noqa: E402

READ_ONLY_POSTS = ("sys/capabilities", "auth/token/lookup")
BIN = Path(sys.executable).parent


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Bench:
    def __init__(self, lab_dir, base_port, runs, out, work, smoke=False):
        from drlab import Lab

        self.lab = Lab(str(lab_dir))
        self.base_port, self.runs, self.out, self.work, self.smoke = base_port, runs, Path(out), Path(work), smoke
        self.results = {"runs": runs, "smoke": smoke, "stages": {}, "ansible": {}, "floor": {}}
        self.n = 0

    # -- lab -------------------------------------------------------------------------------------------
    def info(self):
        return json.loads((Path(self.lab.dir) / "lab.json").read_text())

    def clusters(self, names):
        info = self.info()
        return bare.clusters_from_lab(info, names, info["clusters"]["a"]["root_token"])

    def inventory(self, names, own_for=()):
        """An inventory of `names` (0600): a's root token on every host, the cluster's own for `own_for`."""
        info = self.info()
        hosts = {}
        for name in names:
            c = info["clusters"][name]
            hosts[name] = {"vault_addr": c["api_addr"], "vault_cluster_addr": c["cluster_addr"],
                           "vault_ca_cert": c.get("ca_cert") or info["ca_cert"], "ansible_connection": "local",
                           "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                           "vault_token": info["clusters"][name if name in own_for else "a"]["root_token"]}
        self.n += 1
        path = self.work / ("inventory-%d.json" % self.n)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"all": {"children": {"vault_clusters": {"hosts": hosts}}}}, fh)
        return str(path)

    def vars_file(self, doc):
        self.n += 1
        path = self.work / ("vars-%d.json" % self.n)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
        return str(path)

    def playbook(self, target, inventory, extra=None, args=()):
        """Run ansible-playbook; returns (wall seconds, the bench_timer record)."""
        self.n += 1
        run_no = self.n
        timer = self.work / ("timer-%d.json" % run_no)
        cmd = [str(BIN / "ansible-playbook"), "-i", inventory, target] + list(args)
        if extra:
            cmd += ["-e", "@" + self.vars_file(extra)]
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
                   ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="bench_timer",
                   BENCH_TIMER_OUT=str(timer), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                   PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True,  # noqa: S603
                              timeout=1200, check=False)
        wall = time.monotonic() - t0
        (self.work / ("run-%d.log" % run_no)).write_text(" ".join(cmd) + "\n" + proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError("%s failed (rc %s), log %s:\n%s" % (target, proc.returncode,
                               self.work / ("run-%d.log" % run_no), (proc.stdout + proc.stderr)[-4000:]))
        return wall, (json.loads(timer.read_text()) if timer.exists() else {})

    def writes(self, since):
        return [w for w in self.lab.writes(since=since) if not w["path"].lstrip("/").startswith(READ_ONLY_POSTS)]

    def settle(self, names, primary, timeout=120):
        """Until `primary` is running with every other of `names` connected, each serving its current data."""
        cl = self.clusters(names)
        p = cl[primary]
        others = [n for n in names if n != primary]

        def settled():
            ps = p.status()
            if not bare.primary_running(ps, others):
                return False
            for n in others:
                s = cl[n].status()
                if not bare.follows(s, p) or s.get("merkle_root") != ps.get("merkle_root"):
                    return False
            return True

        t0 = time.monotonic()
        bare.wait(settled, timeout, 0.2, "%s followed by %s, caught up" % (primary, others))
        time.sleep(1.0)  # a heartbeat: the next run starts on a quiet lab
        return time.monotonic() - t0

    def bare_failover(self, names, old, new, **kw):
        return bare.failover(self.clusters(names), old, new, self.batch, **kw)

    def setup(self, names):
        """DR from a over `names` (the setup role; own tokens for clusters not yet in the DR set)."""
        status = self.lab.status()
        own = [n for n in names if status[n]["dr_mode"] == "disabled"]
        self.playbook("vaultops.dr.setup", self.inventory(names, own_for=own))
        self.settle(names, "a")

    def mint_batch_token(self):
        a = self.clusters(["a"])["a"]
        policy = ('path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }\n'
                  'path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }\n')
        a.call("PUT", "sys/policies/acl/bench-dr-op", {"policy": policy}, token=a.token)
        a.call("POST", "auth/token/roles/bench-dr-op", {"allowed_policies": ["bench-dr-op"], "orphan": True,
                                                        "renewable": False, "token_type": "batch"}, token=a.token)
        resp = a.call("POST", "auth/token/create/bench-dr-op", {"policies": ["bench-dr-op"], "ttl": "8h"}, token=a.token)
        return resp.json()["auth"]["client_token"]

    # -- measurements ----------------------------------------------------------------------------------
    def playbook_failover(self, inventory, extra):
        wall, timer = self.playbook("vaultops.dr.failover", inventory, extra)
        report = timer.get("custom_stats", {}).get("failover_report", {})
        if report.get("outcome") != "complete":
            raise RuntimeError("the failover playbook reported %r" % report.get("outcome"))
        return {"wall": round(wall, 3), "seconds": report["seconds"], "rto_seconds": report["rto_seconds"],
                "phases": {p["name"]: p["seconds"] for p in report["phases"]},
                "module_waits": timer.get("waited", []), "task_steps": len(timer.get("tasks", [])),
                "slowest_tasks": sorted(({"task": t["name"], "seconds": round(t["end"] - t["start"], 2)}
                                         for t in timer.get("tasks", []) if t.get("end")),
                                        key=lambda t: -t["seconds"])[:8]}

    def stage(self, key, names, idempotent=False, ceremony=False, floor=False):
        log("stage %s: clusters %s" % (key, ", ".join(names)))
        self.setup(names)
        inventory = self.inventory(names)
        batch_vars = {"failover_target": "b", "failover_dr_operation_token": self.batch}
        st = {"clusters": list(names), "others": len(names) - 1, "playbook": [], "bare": [], "rerun": []}
        for i in range(self.runs):
            pb = self.playbook_failover(inventory, batch_vars)
            st["playbook"].append(pb)
            log("  run %d playbook a->b: %.2f s (report %.2f s, RTO %.2f s)" % (
                i + 1, pb["wall"], pb["seconds"], pb["rto_seconds"]))
            if idempotent:
                self.settle(names, "b")
                since = time.time()
                wall, timer = self.playbook("vaultops.dr.failover", inventory, batch_vars)
                writes = self.writes(since)
                rep = timer.get("custom_stats", {}).get("failover_report", {})
                st["rerun"].append({"wall": round(wall, 3), "seconds": rep.get("seconds"), "outcome": rep.get("outcome"),
                                    "task_steps": len(timer.get("tasks", [])),
                                    "writes": len(writes), "write_paths": sorted({w["path"] for w in writes})})
                log("  run %d playbook again: %.2f s, %d writes" % (i + 1, wall, len(writes)))
            self.bare_failover(names, "b", "a")
            self.settle(names, "a")
            t0 = time.monotonic()
            br = self.bare_failover(names, "a", "b")
            br["wall"] = round(time.monotonic() - t0, 4)
            st["bare"].append(br)
            log("  run %d bare a->b: %.2f s (RTO %.3f s)" % (i + 1, br["wall"], br["rto_seconds"]))
            self.bare_failover(names, "b", "a")
            self.settle(names, "a")
        if ceremony:
            shares = self.info()["clusters"]["a"]["unseal_keys_b64"][:3]
            pb = self.playbook_failover(inventory, {"failover_target": "b", "failover_key_shares": shares})
            st["ceremony"] = [pb]
            log("  ceremony (3 of 5 on every cluster that needs one) a->b: %.2f s" % pb["wall"])
            self.settle(names, "b")
            self.bare_failover(names, "b", "a")
            self.settle(names, "a")
        if floor:
            self.results["floor"] = self.lab_floor(names)
            self.settle(names, "a")
        self.results["stages"][key] = st

    def lab_floor(self, names):
        """What the servers need: promote -> first accepted write, and update-primary -> the re-attached
        secondaries serving the new primary's current data (a raft snapshot shipped and restored)."""
        log("  lab floor")
        cl = self.clusters(names)
        br = bare.failover(cl, "a", "b", self.batch)
        new = cl["b"]
        t0 = time.monotonic()

        def streamed():
            root = new.status().get("merkle_root")
            return all(cl[n].status().get("merkle_root") == root for n in names if n != "b")

        bare.wait(streamed, 120, 0.05, "every secondary serving b's data")
        stream = time.monotonic() - t0 + (br["marks"]["verified"] - br["marks"]["writes_accepted"])
        self.settle(names, "b")
        self.bare_failover(names, "b", "a")
        return {"promote_to_write": round(br["marks"]["writes_accepted"] - br["marks"]["first_write"], 3),
                "update_primary_to_following": br["waits"].get("re-attach"),
                "update_primary_to_streamed": round(stream, 3),
                "bare_waits": br["waits"]}

    def ansible_costs(self):
        """An empty play, and one module / one set_fact step on 3 local hosts."""
        log("ansible-playbook's own costs")
        inventory = self.inventory(["a", "b", "c"])
        books = {}
        for name, tasks in (("empty", ""), ("module", "dr_status"), ("set_fact", "set_fact")):
            body = "- hosts: vault_clusters\n  gather_facts: false\n  tasks:\n"
            for i in range(5 if tasks else 0):
                if tasks == "dr_status":
                    body += ("    - vaultops.dr.dr_status:\n        url: '{{ vault_addr }}'\n"
                             "        ca_cert: '{{ vault_ca_cert }}'\n")
                else:
                    body += "    - ansible.builtin.set_fact:\n        x%d: 1\n" % i
            if not tasks:
                body = "- hosts: vault_clusters\n  gather_facts: false\n  tasks: []\n"
            path = self.work / ("%s.yml" % name)
            path.write_text(body)
            books[name] = str(path)
        times = {k: [] for k in books}
        for _round in range(1 if self.smoke else max(3, self.runs)):
            for k, path in books.items():
                times[k].append(self.playbook(path, inventory)[0])
        empty = statistics.median(times["empty"])
        self.results["ansible"] = {
            "empty_playbook": round(empty, 3),
            "module_step_3_hosts": round((statistics.median(times["module"]) - empty) / 5, 3),
            "set_fact_step_3_hosts": round((statistics.median(times["set_fact"]) - empty) / 5, 3),
            "raw": {k: [round(v, 3) for v in vs] for k, vs in times.items()}}

    def run(self):
        self.work.mkdir(parents=True, exist_ok=True)
        started = time.time()
        log("drlab in %s, base port %s" % (self.lab.dir, self.base_port))
        self.lab.up(clusters=3 if self.smoke else 4, base_port=self.base_port)
        self.lab.reset()
        load_before = os.getloadavg()
        # The batch token is minted on a before DR is set up (each stage sets up its clusters): a DR secondary
        # serves its primary's policies and token store, so the token is valid on every cluster.
        self.batch = self.mint_batch_token()
        if not self.smoke:
            self.stage("1 other", ["a", "b"])
        self.stage("2 others", ["a", "b", "c"], idempotent=True, ceremony=not self.smoke, floor=True)
        if not self.smoke:
            self.stage("3 others", ["a", "b", "c", "d"])
        self.ansible_costs()
        self.results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                                   "loadavg_before": [round(x, 2) for x in load_before],
                                   "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                                   "ansible_core": ansible_version(), "date": time.strftime("%Y-%m-%d %H:%M")}
        self.results["bench_seconds"] = round(time.time() - started, 1)
        summary = summarise(self.results)
        self.results["summary"] = summary
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "rto.json").write_text(json.dumps(self.results, indent=1, sort_keys=True) + "\n")
        md = render_markdown(self.results)
        (self.out / "rto.md").write_text(md)
        print(md)
        log("wrote %s and %s" % (self.out / "rto.md", self.out / "rto.json"))


def ansible_version():
    try:
        from ansible.release import __version__
        return __version__
    except ImportError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="the drlab directory (its own, not another lab's)")
    ap.add_argument("--base-port", type=int, default=33000)
    ap.add_argument("--runs", type=int, default=3, help="playbook and bare runs each, per stage (alternating)")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--keep", action="store_true", help="leave the lab running at the end")
    ap.add_argument("--smoke", action="store_true",
                    help="3 clusters, stage '2 others' without the ceremony, one round of Ansible's cost (bench-smoke)")
    args = ap.parse_args()
    # Inventories (with the lab's tokens, 0600) and playbook logs go into the lab directory.
    work = Path(args.dir) / "bench-work"
    shutil.rmtree(work, ignore_errors=True)
    bench = Bench(args.dir, args.base_port, max(1, args.runs), args.out, work, smoke=args.smoke)
    try:
        bench.run()
    finally:
        if not args.keep:
            bench.lab.down()


if __name__ == "__main__":
    main()
