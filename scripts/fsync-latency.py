#!/usr/bin/env python3
"""fdatasync latency of a journal-like append pattern, four ways of laying out the file.

Writes `--commits` records of `--bytes` each, one fdatasync after each, into a file in
`--dir`, and prints the latency percentiles and the system CPU per layout:

  append  plain appends: every fdatasync also persists the grown size (what the journal does)
  keep    blocks reserved ahead with fallocate(FALLOC_FL_KEEP_SIZE); the size still grows
  falloc  blocks reserved with fallocate (unwritten extents): writes convert them
  zero    the file written with zeros and synced first; writes overwrite in place

docs/PERFORMANCE.md, "Session 13: what the fsync is worth". Linux only; stdlib only.
"""
import argparse
import ctypes
import os
import time

FALLOC_FL_KEEP_SIZE = 1


def run(libc, directory, mode, commits, size):
    path = os.path.join(directory, "fsync-latency.test")
    if os.path.exists(path):
        os.remove(path)
    total = commits * size + 4096
    flags = os.O_RDWR | os.O_CREAT | (0 if mode == "zero" else os.O_APPEND)
    fd = os.open(path, flags)
    if mode == "zero":
        os.write(fd, b"\0" * total)
        os.fsync(fd)
        os.lseek(fd, 0, os.SEEK_SET)
    elif mode == "keep":
        assert libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, total) == 0
        os.fsync(fd)
    elif mode == "falloc":
        assert libc.fallocate(fd, 0, 0, total) == 0
        os.fsync(fd)
        os.close(fd)
        fd = os.open(path, os.O_RDWR)
    record = b"x" * size
    latencies = []
    cpu = os.times()
    for _ in range(commits):
        os.write(fd, record)
        start = time.perf_counter()
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - start)
    system = os.times().system - cpu.system
    os.close(fd)
    os.remove(path)
    latencies.sort()
    us = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1e6
    mean = sum(latencies) / len(latencies) * 1e6
    print(f"{mode:7} mean {mean:5.0f} us  p50 {us(0.5):5.0f}  p99 {us(0.99):6.0f}  "
          f"max {latencies[-1] * 1e6:6.0f} us  system CPU {system:.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=".", help="where the test file goes (the journal's file system)")
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--bytes", type=int, default=17 * 150, help="bytes a commit (17 records of 150 bytes)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    for _ in range(args.rounds):
        for mode in ["append", "keep", "falloc", "zero"]:
            run(libc, args.dir, mode, args.commits, args.bytes)


if __name__ == "__main__":
    main()
