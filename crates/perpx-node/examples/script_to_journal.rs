//! Writes a replay script (`docs/REPLAY.md`) into a journal directory through a node, so that
//! `perpx verify` and `perpx proof` have something to look at before the server exists.
//!
//! ```sh
//! cargo run -p perpx-node --example script_to_journal -- examples/quickstart.jsonl /tmp/quickstart-journal
//! cargo run -- verify /tmp/quickstart-journal
//! cargo run -- proof /tmp/quickstart-journal --seq 5
//! ```
//!
//! Lines refused before the engine (malformed, off the tick…) are skipped, as `perpx replay`
//! reports them without a sequence number. The directory is created if needed; an existing
//! journal in it is continued.

use std::io::BufRead;

use perpx_node::{Node, NodeConfig};
use perpx_wire::command::{Line, decode_line};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [script, dir] = args.as_slice() else {
        eprintln!("usage: script_to_journal SCRIPT.jsonl DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(dir).expect("journal directory");
    let (mut node, recovered) = Node::open_dir(dir, NodeConfig::default()).expect("open the journal");
    let _redelivered = node.take_published();
    let file = std::fs::File::open(script).expect("the script");
    let (mut written, mut refused) = (0u64, 0u64);
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("read the script");
        match decode_line(&line, node.engine()) {
            Ok(Some(Line::Command(c))) => {
                node.submit(&c).expect("journal the command");
                written += 1;
            }
            Ok(Some(Line::Header(_)) | None) => {}
            Err(_) => refused += 1,
        }
    }
    let head = node.durable_head();
    println!(
        "{written} commands journaled after record {} ({refused} lines refused before the engine); head {} {}; \
         state hash {}",
        recovered.head.seq,
        head.seq,
        perpx_journal::record::hex(&head.hash),
        node.engine().state_hash()
    );
}
