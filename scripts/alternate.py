#!/usr/bin/env python3
"""Times two or more builds of one criterion benchmark alternately, run after run.

    cargo bench -p perpx-core --bench funding --no-run      # prints the bench binary's path
    cp target/release/deps/funding-<hash> /tmp/fund-before   # one copy per build
    scripts/alternate.py funding_settlement/1m_positions /tmp/fund-before /tmp/fund-after --rounds 6

On a shared virtual machine the same binary's time drifts by up to 2x within minutes
(docs/PERFORMANCE.md, "Reference machine"), so two builds measured one after the other compare
the minutes more than the code. Alternating them, round after round, puts both in the same
minutes; this prints every run's median and the quantiles of all samples of each build, which
is how PERFORMANCE.md reports a change ("alternated"). Instruction counts (callgrind) are the
steadier comparison; this is for the times.

The order turns every round (A B, then B A, ...): in session 26 the first build of each pair
ran slower in most rounds whichever build it was, so a fixed order favoured the second.

Each run is `<binary> --bench '^<id>$' --noplot [criterion args]`, its samples read from
criterion's `sample.json` under a scratch CRITERION_HOME (so no baseline of one build is read
by another). Times are per iteration, in milliseconds (the book benches' iteration is their
100,000 commands). Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(binary, bench_id, home, extra):
    env = dict(os.environ, CRITERION_HOME=home)
    cmd = [binary, "--bench", f"^{bench_id}$", "--noplot", *extra]
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    path = os.path.join(home, *bench_id.split("/"), "new", "sample.json")
    try:
        with open(path) as f:
            sample = json.load(f)
    except FileNotFoundError:
        sys.exit(f"no samples at {path}: is '{bench_id}' the benchmark's full id (group/name)?")
    return sorted(t / n / 1e6 for t, n in zip(sample["times"], sample["iters"]))


def quantile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- go to every run (e.g. -- --measurement-time 3).",
    )
    p.add_argument("bench_id", help="criterion id, group/name, e.g. liquidation/gap_30pct_100k_accounts")
    p.add_argument("binaries", nargs="+", help="bench binaries, one per build (two or more)")
    p.add_argument("--rounds", type=int, default=6, help="runs of each binary (default 6)")
    p.add_argument("--log", help="also append every run's samples to this file")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    a = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if len(a.binaries) < 2:
        p.error("give two or more binaries: alternation compares builds")

    samples = {b: [] for b in a.binaries}
    medians = {b: [] for b in a.binaries}
    with tempfile.TemporaryDirectory(prefix="alternate-") as home:
        print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC: {a.rounds} rounds of {a.bench_id}", flush=True)
        for r in range(1, a.rounds + 1):
            for b in a.binaries if r % 2 else reversed(a.binaries):
                s = run_once(b, a.bench_id, home, extra)
                samples[b] += s
                medians[b].append(statistics.median(s))
                line = f"round {r} {b}: median {medians[b][-1]:.2f} ms, min {s[0]:.2f}"
                print(line, flush=True)
                if a.log:
                    with open(a.log, "a") as f:
                        f.write(f"{b} {' '.join(f'{x:.3f}' for x in s)}\n")
        print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC: done")
    print()
    print("| build | samples | min | p25 | median | p75 | run medians |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for b in a.binaries:
        v = sorted(samples[b])
        runs = ", ".join(f"{m:.1f}" for m in sorted(medians[b]))
        print(
            f"| {b} | {len(v)} | {v[0]:.2f} | {quantile(v, 0.25):.2f} | {statistics.median(v):.2f} "
            f"| {quantile(v, 0.75):.2f} | {runs} |"
        )


if __name__ == "__main__":
    main()
