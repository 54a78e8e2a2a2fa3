#!/usr/bin/env python3
"""Aggregates bench/run.sh's raw results into the markdown table (stdlib only).

usage: aggregate.py RAW.tsv CONDITIONS.txt "WORKLOADS" "IMPLS"

RAW.tsv lines: rep, workload label, impl, exit status, peak RSS (KiB), N, RESULT line (or empty).
Ratios are peer / unsync: above 1 means unsync is faster (less time per operation).
"""
import os
import re
import statistics
import sys

# Workloads whose number is the wall time of the whole run (ideal times are fixed), not ns/op.
WALL = {"timers", "procs", "procs_mpi", "procs_mpi_tcp", "seed_sleep", "seed_then", "seed_mixing"}

ALL_IMPLS = ["unsync", "asio", "std", "tbb"]


def cores():
    return os.cpu_count() or 1


def target(workload, n):
    """(text, check) from issue 4; check(ns_per_op, wall_s, rss_mib) -> bool."""
    if workload == "spawn":
        return "≤ 80 ns, ≤ 32 MiB", lambda ns, w, r: ns <= 80 and r <= 32
    if workload == "await_chain":
        return "≤ 10 ns", lambda ns, w, r: ns <= 10
    if workload == "submit":
        return "≤ 200 ns", lambda ns, w, r: ns <= 200
    if workload == "pingpong":
        return "≤ 2 µs", lambda ns, w, r: ns <= 2000
    if workload == "then":
        if n and n >= 1000000:
            return "runs at N=10⁶", lambda ns, w, r: True
        return "≤ 100 ns", lambda ns, w, r: ns <= 100
    if workload == "timers":
        return "≤ 0.125 s, ≤ 40 MiB", lambda ns, w, r: w <= 0.125 and r <= 40
    if workload == "procs":
        ideal = (n or 100) * 0.010 / cores()
        return "≤ %.3f s" % (1.03 * ideal), lambda ns, w, r: w <= 1.03 * ideal
    if workload == "proc_trivial":
        return "≤ 20 µs", lambda ns, w, r: ns <= 20000
    # unsync::mpi under mpirun -np 3: two serving ranks (issue 12).
    if workload in ("procs_mpi", "procs_mpi_tcp"):
        limit = 0.52 * (n or 100) / 100
        return "≤ %.2f s" % limit, lambda ns, w, r: w <= limit
    if workload == "proc_trivial_mpi":
        return "≤ 25 µs", lambda ns, w, r: ns <= 25000
    if workload == "proc_trivial_mpi_tcp":
        return "≤ 60 µs", lambda ns, w, r: ns <= 60000
    ideal = {"seed_sleep": 0.1, "seed_then": 0.2, "seed_mixing": 0.2}.get(workload)
    if ideal is not None:
        # seed_then runs its N chains one after another; the other two run N calls at once.
        mult = (n or 1) if workload == "seed_then" else 1
        limit = 1.02 * ideal * mult
        return "≤ %.3f s" % limit, lambda ns, w, r: w <= limit
    return "", lambda ns, w, r: True


def fmt_ns(ns):
    if ns < 1000:
        return "%.0f ns" % ns if ns >= 100 else "%.1f ns" % ns
    if ns < 1e6:
        return "%.1f µs" % (ns / 1e3)
    return "%.1f ms" % (ns / 1e6)


def fmt_cell(workload, runs):
    ns = statistics.median(r["ns"] for r in runs)
    wall = statistics.median(r["wall"] for r in runs)
    if workload == "timers":
        text = "%.3f s (%s/op)" % (wall, fmt_ns(ns))
    elif workload in WALL:
        text = "%.3f s" % wall
    else:
        text = fmt_ns(ns)
    if not all(r["ok"] for r in runs):
        text += " ✗"
    return text, ns


def main():
    raw_path, cond_path, workloads, impls = sys.argv[1:5]
    impls = [i for i in ALL_IMPLS if i in impls.split()] + [
        i for i in impls.split() if i not in ALL_IMPLS]
    labels = workloads.split()
    data = {}  # (label, impl) -> list of runs
    for line in open(raw_path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 7:
            continue
        rep, label, impl, rc, rss, n, result = parts[:7]
        run = {"rc": int(rc), "rss": int(rss) / 1024.0, "n": n}
        m = re.match(r"RESULT workload=(\S+) impl=(\S+) n=(\d+) wall_s=([\d.]+) "
                     r"ns_per_op=([\d.]+) ok=([01])", result)
        if not m:
            data.setdefault((label, impl), [])
            continue
        run.update(n=int(m.group(3)), wall=float(m.group(4)), ns=float(m.group(5)),
                   ok=m.group(6) == "1")
        data.setdefault((label, impl), []).append(run)

    print("### Side-by-side workloads (medians)")
    print()
    for line in open(cond_path, encoding="utf-8"):
        print("- " + line.strip())
    print()
    peers = [i for i in impls if i != "unsync"]
    head = ["workload", "N", "target", "met"] + impls + ["%s/unsync" % p for p in peers] + [
        "ok " + "/".join(i[0] for i in impls)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    rss_rows = []
    for label in labels:
        workload = label.split("@")[0]
        cells, ns_of, oks = {}, {}, []
        n_shown = ""
        for impl in impls:
            runs = data.get((label, impl), [])
            if runs:
                cells[impl], ns_of[impl] = fmt_cell(workload, runs)
                n_shown = n_shown or str(runs[0]["n"])
                oks.append("1" if all(r["ok"] for r in runs) else "0")
            else:
                cells[impl] = "n/a"
                oks.append("–")
        n_val = int(n_shown) if n_shown else None
        ttext, check = target(workload, n_val)
        met = "–"
        u = data.get((label, "unsync"), [])
        if u:
            ns = statistics.median(r["ns"] for r in u)
            wall = statistics.median(r["wall"] for r in u)
            rss = statistics.median(r["rss"] for r in u)
            met = "yes" if all(r["ok"] for r in u) and check(ns, wall, rss) else "**no**"
        ratios = []
        for p in peers:
            if "unsync" in ns_of and p in ns_of and ns_of["unsync"] > 0:
                ratios.append("%.2f" % (ns_of[p] / ns_of["unsync"]))
            else:
                ratios.append("n/a")
        row = [label.replace("@", " N="), n_shown or "–", ttext, met] + [
            cells[i] for i in impls] + ratios + ["/".join(oks)]
        print("| " + " | ".join(row) + " |")
        if workload in ("spawn", "timers") and "@" not in label:
            rss_rows.append(label)

    if rss_rows:
        print()
        print("### Peak RSS (MiB, median, whole process; `/usr/bin/time -f %M`)")
        print()
        print("| workload | target | " + " | ".join(impls) + " |")
        print("|---|---|" + "---|" * len(impls))
        for label in rss_rows:
            tgt = {"spawn": "≤ 32", "timers": "≤ 40"}[label]
            cells = []
            for impl in impls:
                runs = data.get((label, impl), [])
                cells.append("%.1f" % statistics.median(r["rss"] for r in runs) if runs else "n/a")
            print("| %s | %s | %s |" % (label, tgt, " | ".join(cells)))
    print()
    print("Ratios are peer / unsync time (above 1: unsync is faster). ✗: a run did not verify "
          "(ok=0). n/a: the implementation has no such operation or printed no result.")


if __name__ == "__main__":
    main()
