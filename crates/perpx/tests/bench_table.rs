//! `scripts/bench_table.py`, which prints the performance targets against a `scripts/bench.sh`
//! run, has its tests in Python (`scripts/test_bench_table.py`, standard library only); they run
//! here so that `cargo test --workspace` covers them. Without a `python3` they are skipped,
//! except under CI, which must have one.

use std::path::Path;
use std::process::Command;

#[test]
fn the_bench_table_script_reads_every_target_from_its_own_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "scripts", "-p", "test_*.py"])
        .current_dir(&root)
        .output();
    let out = match run {
        Ok(out) => out,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI must have python3: {e}");
            eprintln!("skipped: python3 could not be started ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "scripts/test_bench_table.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
