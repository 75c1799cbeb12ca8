//! `command_line` is the inverse of `decode_line`: every command of every example script, and
//! of long mixed streams (every kind, every market section), comes back as itself.

use std::path::PathBuf;

use perpx_core::{Command, CommandKind, Engine};
use perpx_testkit::mixed_stream;
use perpx_wire::command::{Line, decode_line};
use perpx_wire::command_json::command_line;

/// Encodes `cmd` against `engine`, decodes the line, and expects `cmd` back.
fn round_trip(cmd: &Command, engine: &Engine, context: &str) -> bool {
    let Some(line) = command_line(cmd, engine) else { return false };
    let text = line.to_string();
    match decode_line(&text, engine) {
        Ok(Some(Line::Command(back))) => assert_eq!(&back, cmd, "{context}: {text}"),
        other => panic!("{context}: {text} decodes to {other:?}"),
    }
    true
}

#[test]
fn every_command_of_the_example_scripts_comes_back_as_itself() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut scripts: Vec<PathBuf> = ["examples", "docs/adl"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && !p.to_string_lossy().ends_with(".expected.jsonl"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 8, "{scripts:?}");
    let mut commands = 0;
    for script in scripts {
        let mut engine = Engine::default();
        for (i, text) in std::fs::read_to_string(&script).unwrap().lines().enumerate() {
            let context = format!("{}:{}", script.display(), i + 1);
            if let Ok(Some(Line::Command(cmd))) = decode_line(text, &engine) {
                assert!(round_trip(&cmd, &engine, &context), "{context}: no line for {cmd:?}");
                engine.apply(&cmd);
                commands += 1;
            }
        }
    }
    assert!(commands > 100, "{commands}");
}

/// Mixed streams name unknown markets and oracle sources and use extreme amounts on purpose:
/// those have no line; every other command round-trips.
#[test]
fn mixed_streams_round_trip_except_what_the_schema_cannot_say() {
    let mut kinds = std::collections::HashSet::new();
    let (mut lines, mut none) = (0, 0);
    for seed in [1, 2, 3] {
        let s = mixed_stream::generate(seed, 600);
        let mut engine = Engine::new(s.engine.clone());
        for (i, cmd) in s.commands.iter().enumerate() {
            if round_trip(cmd, &engine, &format!("mixed seed {seed}, command {i}")) {
                kinds.insert(std::mem::discriminant(&cmd.kind));
                lines += 1;
            } else {
                none += 1;
            }
            engine.apply(cmd);
        }
    }
    assert!(kinds.len() >= 18, "{} kinds round-tripped", kinds.len());
    assert!(none * 20 < lines, "{none} commands without a line, {lines} with");
}

#[test]
fn what_the_schema_cannot_say_has_no_line() {
    let mut engine = Engine::default();
    engine.apply(&perpx_testkit::fixtures::create_market(1, perpx_testkit::fixtures::test_spec()));
    let cmd = |kind| Command { ts: perpx_core::Timestamp(2), kind };
    let unknown = CommandKind::MassCancel { market: perpx_core::MarketId(9) };
    assert!(command_line(&cmd(unknown), &engine).is_none());
    let extreme = CommandKind::Deposit { account: perpx_core::AccountId(1), amount: perpx_core::Quote(i64::MIN) };
    assert!(command_line(&cmd(extreme), &engine).is_none());
    let fine = CommandKind::Deposit { account: perpx_core::AccountId(1), amount: perpx_core::Quote(1_500_000) };
    let line = command_line(&cmd(fine), &engine).unwrap();
    assert_eq!(line.to_string(), r#"{"account":1,"amount":"1.500000","ts":2,"type":"deposit"}"#);
}
