//! A WebSocket client for the server tests: connect to `/ws`, send JSON, read the next JSON
//! message, sign in.

use std::net::TcpStream;
use std::time::Duration;

use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::{Key, Server, stamp};

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// A connection to the server's `/ws`, reads timing out after 10 s.
pub fn connect(s: &Server) -> Socket {
    let url = format!("{}/ws", s.base.replace("http://", "ws://"));
    let (ws, _) = tungstenite::connect(url).unwrap();
    if let MaybeTlsStream::Plain(t) = ws.get_ref() {
        t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    ws
}

pub fn send(ws: &mut Socket, v: &Value) {
    ws.send(Message::text(v.to_string())).unwrap();
}

/// The next JSON message (a close frame fails the test).
pub fn next(ws: &mut Socket) -> Value {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

/// The signed `auth` message of key `k`, stamped now.
pub fn auth_message(k: &Key) -> Value {
    let ts = stamp();
    let sig = sign(&k.secret, &signed_bytes(&ts.to_string(), "GET", "/ws", b""));
    json!({ "op": "auth", "key": k.key, "timestamp": ts, "signature": sig })
}

/// Signs in with key `k` and checks the answer.
pub fn login(ws: &mut Socket, k: &Key) {
    send(ws, &auth_message(k));
    let v = next(ws);
    assert_eq!(v["op"], "auth", "{v}");
}
