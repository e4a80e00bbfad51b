"""Command line: ``drlab up|status|down|stop|start|recovery|fault|version|requests|op-token-auth|reset|env``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .lab import Lab, LabError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="drlab", description="local DR lab: OpenBao clusters behind a Vault-compatible DR gateway")
    ap.add_argument("--dir", help="lab directory (default: $DRLAB_DIR or ./.drlab)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, **kw)
        p.add_argument("--dir", dest="dir_sub", help=argparse.SUPPRESS)
        return p

    p = add("up", help="start (or complete) the lab; idempotent")
    p.add_argument("--clusters", type=int, default=None, help="number of clusters, 1..5 (a, b, ...)")
    p.add_argument("--base-port", type=int, default=None, help="first port (default 18200); cluster i uses P+10*i ..")
    p.add_argument("--require-token-for-op-generation", action=argparse.BooleanOptionalAction, default=None,
                   help="emulate Vault 2.x: generate-operation-token wants a Vault token (kept in the lab config; "
                        "default: unchanged, off for a new lab)")
    add("status", help="show every cluster's state (JSON)")
    p = add("down", help="stop every process of the lab (data stays unless --purge)")
    p.add_argument("--purge", action="store_true", help="also delete the lab directory")
    p = add("stop", help="site outage: stop a cluster (API and cluster port gone, state kept)")
    p.add_argument("name")
    p = add("start", help="start a stopped cluster again")
    p.add_argument("name")
    p = add("recovery", help="restart a cluster's OpenBao in recovery mode")
    p.add_argument("name")
    p.add_argument("--off", action="store_true", help="leave recovery mode (restart normally and unseal)")
    p = add("fault", help="inject faults on a cluster's gateway")
    p.add_argument("name")
    p.add_argument("--path", help="path glob without /v1/ (e.g. sys/replication/dr/secondary/promote)")
    p.add_argument("--status", type=int, help="HTTP status to answer with (e.g. 412, 503)")
    p.add_argument("--count", type=int, default=1, help="how many requests (default 1; -1 = until cleared)")
    p.add_argument("--method", default="", help="only this HTTP method")
    p.add_argument("--message", default="", help="error text to answer with")
    p.add_argument("--latency", "--hang", dest="latency", type=float,
                   help="add this many seconds of latency before the request is processed (0 removes it); with --path only there")
    p.add_argument("--drop-answer", action="store_true",
                   help="process the next --count matching requests, then close the connection without any HTTP response")
    p.add_argument("--after-acting", action="store_true",
                   help="with --status: process the matching requests, then answer --status with a load balancer's page")
    p.add_argument("--redirect", metavar="URL",
                   help="answer 307 with Location URL + the request's path (nothing processed)")
    p.add_argument("--cut-link", metavar="OTHER", help="cut the replication link between NAME and OTHER")
    p.add_argument("--restore-link", metavar="OTHER", help="restore the replication link between NAME and OTHER")
    p.add_argument("--clear", action="store_true", help="remove every fault, latency and cut link on NAME")
    p = add("version", help="print the version a cluster reports in sys/seal-status and sys/health, or set it")
    p.add_argument("name")
    p.add_argument("version", nargs="?", help="version to report (e.g. 1.15.0)")
    p.add_argument("--clear", action="store_true", help="report OpenBao's own version again")
    p = add("requests", help="print the request log of a cluster's API address (JSON)")
    p.add_argument("name", nargs="?", help="cluster (default: every running cluster)")
    p.add_argument("--since", type=float, default=None, help="only requests at or after this time.time() value")
    p.add_argument("--writes", action="store_true", help="only state-changing requests (POST, PUT, DELETE, PATCH)")
    p.add_argument("--clear", action="store_true", help="clear the log instead")
    p = add("op-token-auth", help="lab-wide: does generate-operation-token want a Vault token (Vault 2.x) or not (pre-2.0)")
    p.add_argument("mode", nargs="?", choices=("required", "optional"), help="set it (without: print the current setting)")
    add("reset", help="wipe every cluster back to a fresh, initialised, unsealed state with DR disabled")
    p = add("env", help="print shell exports (VAULT_ADDR, VAULT_CACERT, VAULT_TOKEN) for a cluster")
    p.add_argument("name")

    args = ap.parse_args(argv)
    lab = Lab(getattr(args, "dir_sub", None) or args.dir)
    try:
        return _run(lab, args)
    except LabError as exc:
        print(f"drlab: {exc}", file=sys.stderr)
        return 1


def _run(lab: Lab, args: argparse.Namespace) -> int:
    if args.cmd == "up":
        t = time.time()
        info = lab.up(clusters=args.clusters, base_port=args.base_port, op_generation_requires_token=args.require_token_for_op_generation)
        for name, c in info["clusters"].items():
            print(f"{name}: {c['api_addr']} (cluster {c['cluster_addr']})")
        print(f"lab.json: {lab.json_path}\ninventory: {lab.dir}/inventory.yml\nready in {time.time() - t:.1f}s")
    elif args.cmd == "status":
        print(json.dumps(lab.status(), indent=2, sort_keys=True))
    elif args.cmd == "down":
        lab.down(purge=args.purge)
    elif args.cmd == "stop":
        lab.stop(args.name)
    elif args.cmd == "start":
        lab.start(args.name)
    elif args.cmd == "recovery":
        lab.recovery(args.name, on=not args.off)
    elif args.cmd == "version":
        if args.clear:
            lab.set_version(args.name, None)
        elif args.version:
            lab.set_version(args.name, args.version)
        print(lab.version(args.name))
    elif args.cmd == "requests":
        if args.clear:
            lab.clear_requests(args.name)
        elif args.writes:
            print(json.dumps(lab.writes(args.name, since=args.since), indent=2))
        else:
            names = [args.name] if args.name else [n for n, st in lab.status().items() if st["running"]]
            out = sorted((e for n in names for e in lab.requests(n, since=args.since)), key=lambda e: e["time"])
            print(json.dumps(out, indent=2))
    elif args.cmd == "op-token-auth":
        if args.mode:
            lab.set_op_generation_requires_token(args.mode == "required")
        print("required" if lab.op_generation_requires_token() else "optional")
    elif args.cmd == "reset":
        lab.reset()
    elif args.cmd == "env":
        c = lab.cluster(args.name)
        print(f"export VAULT_ADDR={c.api_addr}\nexport VAULT_CACERT={c.ca_cert}\nexport VAULT_TOKEN={c.root_token}")
    elif args.cmd == "fault":
        did = False
        if args.clear:
            lab.clear_faults(args.name)
            did = True
        if args.cut_link:
            lab.cut_link(args.name, args.cut_link)
            did = True
        if args.restore_link:
            lab.restore_link(args.name, args.restore_link)
            did = True
        if args.latency is not None:
            lab.latency(args.name, args.latency, path=args.path)
            did = True
        if args.drop_answer:
            lab.fault(args.name, path=args.path or "*", count=args.count, method=args.method, drop_answer=True)
            did = True
        elif args.redirect:
            lab.redirect(args.name, args.redirect, path=args.path or "*", count=args.count, method=args.method)
            did = True
        elif args.status is not None:
            lab.fault(args.name, path=args.path or "*", status=args.status, count=args.count, method=args.method, message=args.message,
                      after_acting=args.after_acting)
            did = True
        if not did:
            print("drlab fault: give --status, --drop-answer, --redirect, --latency, --cut-link, --restore-link or --clear",
                  file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
