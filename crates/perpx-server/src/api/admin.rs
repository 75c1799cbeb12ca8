//! Admin endpoints: any engine command, API keys, and the audit log. Every action is recorded
//! in the audit log, which is journaled (see [`super::audit`]).

use axum::body::Body;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiError, Conn, State, ack_json, audit, authenticate, object, ok, submit};
use crate::keys::Scope;
use crate::sequencer::Submission;

/// Any command in its JSON form (`docs/REPLAY.md`) without `ts`: deposits and withdrawals,
/// markets, scheduled changes, halt/resume/delist, oracle prices, liquidators, fund capital.
pub(super) async fn command(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    let cmd = object(&req.body)?;
    let kind = cmd.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    if kind == "admin_audit" {
        // Audit entries name their actor from the key that signed; nobody writes one by hand.
        return Err(ApiError::bad_request("audit entries are written by the server, not sent"));
    }
    let result = submit(&s, Submission::Json(Value::Object(cmd))).await;
    // The command itself is in the journal at its sequence number; the entry says who sent it
    // (and, for a command refused before sequencing, why).
    let seq = match &result {
        Ok(ack) => Some(ack.seq()),
        Err(e) => e.seq.as_ref().map(|(seq, _)| *seq),
    };
    let detail = json!({ "type": kind, "seq": seq, "error": result.as_ref().err().map(|e| e.code) });
    audit(&s, &req.key, "command", &detail).await?;
    Ok(ok(ack_json(&result?)))
}

pub(super) async fn list_keys(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    let keys = s.keys.lock().expect("keys lock").list();
    Ok(ok(json!({ "keys": keys })))
}

/// `{"account": N | null, "scopes": ["read", "trade"]}` → the new key with its secret (shown
/// once).
pub(super) async fn create_key(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    let m = object(&req.body)?;
    let account = match m.get("account") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| ApiError::bad_request("'account' is an integer"))?),
    };
    let scopes: Vec<Scope> = serde_json::from_value(m.get("scopes").cloned().unwrap_or(json!(["read", "trade"])))
        .map_err(|e| ApiError::bad_request(format!("'scopes': {e}")))?;
    if m.keys().any(|k| k != "account" && k != "scopes") {
        return Err(ApiError::bad_request("the body has only 'account' and 'scopes'"));
    }
    if account.is_none() && !scopes.contains(&Scope::Admin) {
        return Err(ApiError::bad_request("a non-admin key needs an account"));
    }
    let key = s.keys.lock().expect("keys lock").create(account, scopes.clone()).map_err(ApiError::bad_request)?;
    audit(&s, &req.key, "create_key", &json!({ "key": key.key, "account": account, "scopes": scopes })).await?;
    Ok(ok(json!(key)))
}

fn key_param(m: &serde_json::Map<String, Value>) -> Result<String, ApiError> {
    m.get("key")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("the body is {\"key\": \"pk_...\"}"))
}

pub(super) async fn revoke_key(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    let key = key_param(&object(&req.body)?)?;
    let found = s.keys.lock().expect("keys lock").revoke(&key).map_err(ApiError::bad_request)?;
    if !found {
        return Err(ApiError::not_found(format!("no key {key}")));
    }
    audit(&s, &req.key, "revoke_key", &json!({ "key": key })).await?;
    Ok(ok(json!({ "revoked": key })))
}

pub(super) async fn rotate_key(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    let key = key_param(&object(&req.body)?)?;
    let rotated = s.keys.lock().expect("keys lock").rotate(&key).map_err(ApiError::bad_request)?;
    let Some(k) = rotated else { return Err(ApiError::not_found(format!("no active key {key}"))) };
    audit(&s, &req.key, "rotate_key", &json!({ "key": key })).await?;
    Ok(ok(json!(k)))
}

/// The audit log, oldest first, from the history read model (`?cursor=SEQ:IDX&limit=N`): who
/// (the admin key's public id), what, when, and the journal sequence number of the entry.
pub(super) async fn audit_log(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::BTreeMap<String, String>>,
    body: Body,
) -> Result<Response, ApiError> {
    authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    super::history::audit_page(&s, &q, |e| {
        let detail = e["detail"].as_str().and_then(|d| serde_json::from_str::<Value>(d).ok()).unwrap_or(Value::Null);
        json!({ "seq": e["seq"], "ts": e["ts"], "actor": e["actor"], "action": e["action"], "detail": detail })
    })
}
