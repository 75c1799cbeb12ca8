#!/usr/bin/env python3
"""Stalls of a journal-like fdatasync loop, and when they fall.

Appends `--bytes` and calls fdatasync, over and over for `--seconds`, in a file in `--dir`, and
prints the latency percentiles, the syncs slower than `--stall-ms`, how their start times fall
within each 100 ms of the wall clock (ten 10-ms bins: stalls piling into one bin are periodic,
not random), and the CPU time the hypervisor took from this VM meanwhile (`steal` in
/proc/stat, all CPUs).

Run it alone, then while something else loads the machine (`scripts/server-tail.sh` runs it
beside a `perpx serve` without a journal under `perpx bench`): a stall that appears only then,
in the same phase every 100 ms, comes from the load on the machine, not from the program that
syncs. docs/PERFORMANCE.md, "Session 14: the tail is the disk". Linux only; stdlib only.
"""
import argparse
import os
import time


def cpu_times():
    """`/proc/stat`'s first line: user nice system idle iowait irq softirq steal, in ticks."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return dict(zip(["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"], map(int, fields[1:9])))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=".", help="where the test file goes (the journal's file system)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--bytes", type=int, default=17 * 150, help="bytes a commit (17 records of 150 bytes)")
    parser.add_argument("--stall-ms", type=float, default=4.0, help="a sync slower than this is a stall")
    args = parser.parse_args()

    path = os.path.join(args.dir, "io-stalls.test")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
    record = b"x" * args.bytes
    latencies, stalls = [], []
    before, ticks = cpu_times(), os.sysconf("SC_CLK_TCK")
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        os.write(fd, record)
        wall, start = time.time(), time.perf_counter()
        os.fdatasync(fd)
        took = time.perf_counter() - start
        latencies.append(took)
        if took * 1e3 > args.stall_ms:
            stalls.append((wall, took))
    after = cpu_times()
    os.close(fd)
    os.remove(path)

    latencies.sort()
    at = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1e6
    print(f"{len(latencies)} syncs of {args.bytes} bytes in {args.seconds:.0f} s: p50 {at(0.5):.0f} us, "
          f"p99 {at(0.99):.0f} us, p99.9 {at(0.999):.0f} us, max {latencies[-1] * 1e3:.1f} ms")
    total = sum(t for _, t in stalls) * 1e3
    print(f"stalls over {args.stall_ms:g} ms: {len(stalls)}, {total:.0f} ms in all")
    bins = [0] * 10
    for wall, _ in stalls:
        bins[int((wall % 0.1) * 100) % 10] += 1
    print("their start within each 100 ms, 10-ms bins:", " ".join(f"{b:3}" for b in bins))
    stolen = (after["steal"] - before["steal"]) / ticks
    busy = sum(after[k] - before[k] for k in after if k not in ("idle", "iowait")) / ticks
    print(f"CPU time stolen by the hypervisor meanwhile: {stolen:.2f} s (all CPUs; {busy:.2f} s busy)")


if __name__ == "__main__":
    main()
