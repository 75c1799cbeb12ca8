#!/usr/bin/env bash
# Reproduces the measured tables of docs/PERFORMANCE.md, each step echoed before it runs.
#
#     scripts/bench.sh                    # everything (about 15 minutes on the 2-core reference VM)
#     scripts/bench.sh peers memory       # only some steps: book funding liquidation journal recovery engine_thread memory peers
#
# Not run in CI. Measure on a quiet machine, or say what else was running (the figures in
# PERFORMANCE.md do). `recovery` writes a 2-million-command journal to a temporary directory and
# recovers it three times (the replay figure); the 10-million-command recovery, the server under
# load and the simulator have their own commands in PERFORMANCE.md: they take minutes each.
# To compare two builds of one benchmark on a noisy machine, time them alternately with
# scripts/alternate.py.
#
# Each run writes to its own directory (BENCH_RUN_DIR, default target/bench-runs/<UTC time>):
# log.txt, everything printed, and criterion/, the run's criterion results (CRITERION_HOME, so no
# earlier run's figure is read). At the end, scripts/bench_table.py prints the performance
# targets against the run's figures, met or not; `scripts/bench_table.py DIR` prints it again.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=("$@")
all=(book funding liquidation journal recovery engine_thread memory peers)
[ ${#steps[@]} -eq 0 ] && steps=("${all[@]}")
for s in "${steps[@]}"; do
    [[ " ${all[*]} " == *" $s "* ]] || { echo "unknown step: $s (${all[*]})" >&2; exit 2; }
done

run_dir=${BENCH_RUN_DIR:-target/bench-runs/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$run_dir"
export CRITERION_HOME
CRITERION_HOME=$(cd "$run_dir" && pwd)/criterion
exec > >(tee -a "$run_dir/log.txt") 2>&1

run() {
    echo
    echo "+ $*"
    "$@"
}

echo "date: $(date -u '+%F %H:%M UTC')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo "$(rustc --version); load: $(cut -d' ' -f1-3 /proc/loadavg)"

for s in "${steps[@]}"; do
    case "$s" in
        book | funding | liquidation) run cargo bench -p perpx-core --bench "$s" ;;
        journal) run cargo bench -p perpx-journal --bench journal ;;
        recovery)
            dir=$(mktemp -d)
            run cargo run --release -p perpx-node --example recovery_bench -- --commands 2000000 --keep --dir "$dir"
            for _ in 1 2 3; do
                run cargo run --release -p perpx-node --example recovery_bench -- --commands 2000000 --reuse --no-baseline --dir "$dir"
            done
            rm -rf "$dir" ;;
        engine_thread) run cargo bench -p perpx-server --bench engine_thread ;;
        memory)
            run cargo run --release -p perpx-core --example memory
            # The same with glibc's mmap threshold fixed (see PERFORMANCE.md, "Memory").
            run env MALLOC_MMAP_THRESHOLD_=131072 cargo run --release -p perpx-core --example memory ;;
        peers) run cargo run --release --manifest-path benches/peers/Cargo.toml ;;
    esac
done
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "# Targets against this run ($run_dir)"
echo
python3 scripts/bench_table.py "$run_dir"
