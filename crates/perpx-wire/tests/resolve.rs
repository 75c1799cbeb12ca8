//! A command resolved against a copy of the market specifications (as the server's gateway
//! does, off the engine thread) is the command the engine itself would resolve.

use std::path::PathBuf;

use perpx_core::market::MarketSpec;
use perpx_core::{Command, Engine, Timestamp};
use perpx_wire::command::parse_command;
use serde_json::Value;

/// Every command line of the documented examples (`examples/*.jsonl`, `docs/adl/*.jsonl`:
/// markets created, oracle prices, orders, stops, amends, cancels, admin commands, and lines
/// the engine refuses), resolved both ways just before the engine applies it: the same command
/// or the same refusal.
#[test]
fn a_copy_of_the_specifications_resolves_every_command_as_the_engine_does() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (mut compared, mut refused) = (0, 0);
    for dir in [root.join("examples"), root.join("docs/adl")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".jsonl") || name.ends_with(".expected.jsonl") {
                continue;
            }
            let mut engine = Engine::default();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(line) else { continue };
                if m.contains_key("schema") {
                    continue;
                }
                let ts = m.remove("ts").and_then(|t| t.as_i64()).unwrap();
                let Ok(parsed) = parse_command(Value::Object(m)) else { continue };
                let specs: Vec<MarketSpec> = engine.markets().iter().map(|m| m.spec.clone()).collect();
                let by_engine = parsed.clone().kind(&engine);
                let by_copy = parsed.kind(specs.as_slice());
                assert_eq!(by_copy, by_engine, "{name}: {line}");
                compared += 1;
                match by_engine {
                    Ok(kind) => drop(engine.apply(&Command { ts: Timestamp(ts), kind })),
                    Err(_) => refused += 1,
                }
            }
        }
    }
    assert!(compared > 50 && refused > 0, "{compared} commands compared, {refused} refused");
}
