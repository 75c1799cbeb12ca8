#!/usr/bin/env python3
"""Times two or more builds of the recovery bench alternately, on one journal.

    cargo build --release -p perpx-node --example recovery_bench
    cp target/release/examples/recovery_bench /tmp/rb-before     # one copy per build
    /tmp/rb-before --commands 2000000 --keep --no-baseline --dir /tmp/j2m   # writes the journal once
    scripts/alternate_recovery.py /tmp/j2m /tmp/rb-before /tmp/rb-after --rounds 10

Each run is `<binary> --commands N --reuse --no-baseline --dir <journal>`: `Node::open` on the
journal, timed by the bench itself (records/s), and its CPU time from the kernel (user + system
of the process and its threads). The order turns every round (A B, then B A, ...): in session 26
the first build of each pair ran slower in most rounds whichever build it was. A recovery's time
on the reference VM varies by up to 1.6x from run to run (fresh pages are dear, and their cost
varies; docs/PERFORMANCE.md, "Session 26" under recovery), so compare medians of many rounds,
and the pairs: how many rounds each build won. Every run must print the same state hash, else
the builds do not replay alike and the script stops. Standard library only.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

LINE = re.compile(r"recovery \(Node::open\):.* ([0-9]+) records/s; head ([0-9]+), state hash ([0-9a-f]+)")


def run_once(binary, journal, commands):
    cmd = [binary, "--commands", str(commands), "--reuse", "--no-baseline", "--dir", journal]
    before = os.times()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    after = os.times()
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}")
    m = LINE.search(done.stdout)
    if not m:
        sys.exit(f"no recovery line in the output of {' '.join(cmd)}:\n{done.stdout[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return int(m.group(1)), cpu, m.group(3)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("journal", help="a journal directory written by recovery_bench --keep")
    p.add_argument("binaries", nargs="+", help="recovery_bench binaries, one per build (two or more)")
    p.add_argument("--rounds", type=int, default=8, help="runs of each binary (default 8)")
    p.add_argument("--commands", type=int, default=2_000_000, help="the journal's commands (default 2,000,000)")
    a = p.parse_args()
    if len(a.binaries) < 2:
        p.error("give two or more binaries: alternation compares builds")

    rates = {b: [] for b in a.binaries}
    cpus = {b: [] for b in a.binaries}
    hashes = set()
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC: {a.rounds} rounds on {a.journal}", flush=True)
    for r in range(1, a.rounds + 1):
        for b in a.binaries if r % 2 else reversed(a.binaries):
            rate, cpu, state = run_once(b, a.journal, a.commands)
            hashes.add(state)
            if len(hashes) > 1:
                sys.exit(f"round {r} {b}: state hash {state} differs from an earlier run's")
            rates[b].append(rate)
            cpus[b].append(cpu)
            print(f"round {r} {b}: {rate / 1e6:.3f} M records/s, {cpu:.2f} s CPU", flush=True)
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC: done; state hash {hashes.pop()}")
    print()
    first = a.binaries[0]
    print(f"| build | M records/s, median | min–max | CPU s, median | rounds faster than {first} |")
    print("|---|---:|---:|---:|---:|")
    for b in a.binaries:
        v = rates[b]
        wins = "" if b == first else f"{sum(x > y for x, y in zip(v, rates[first]))} of {len(v)}"
        print(
            f"| {b} | {statistics.median(v) / 1e6:.3f} | {min(v) / 1e6:.2f}–{max(v) / 1e6:.2f} "
            f"| {statistics.median(cpus[b]):.2f} | {wins} |"
        )


if __name__ == "__main__":
    main()
