//! The Binance-compatible `/fapi` layer end to end: the real binary, requests signed the way
//! Binance clients sign them, and — when a Python with the pinned clients is available (CI
//! provides it: `.ci/run` installs `tests/binance/requirements.txt` and sets
//! `PERPX_BINANCE_PYTHON`) — ccxt and binance-futures-connector themselves.

mod common;

use common::{Key, Server, stamp, start};
use perpx_server::api::fapi::signed::sign;
use serde_json::{Value, json};

/// A Binance-signed request: `params` (without timestamp and signature) in the query string for
/// GET and DELETE, as a form body for POST and PUT.
fn binance(s: &Server, k: &Key, method: &str, path: &str, params: &str) -> (u16, Value) {
    let ts = stamp();
    let query = if params.is_empty() { format!("timestamp={ts}") } else { format!("{params}&timestamp={ts}") };
    let sig = sign(&k.secret, query.as_bytes());
    send(s, &k.key, method, path, &format!("{query}&signature={sig}"))
}

fn send(s: &Server, key: &str, method: &str, path: &str, signed_query: &str) -> (u16, Value) {
    let url = format!("{}{path}", s.base);
    let mut r = match method {
        "GET" => s.agent.get(format!("{url}?{signed_query}")).header("X-MBX-APIKEY", key).call(),
        "DELETE" => s.agent.delete(format!("{url}?{signed_query}")).header("X-MBX-APIKEY", key).call(),
        "POST" => s
            .agent
            .post(&url)
            .header("X-MBX-APIKEY", key)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(signed_query),
        _ => s
            .agent
            .put(&url)
            .header("X-MBX-APIKEY", key)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(signed_query),
    }
    .unwrap();
    (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
}

fn code(r: &(u16, Value)) -> (u16, i64) {
    (r.0, r.1["code"].as_i64().unwrap_or(0))
}

fn state(s: &Server) -> Value {
    s.get("/api/v1/state-hash").1
}

#[test]
fn public_market_data_has_binance_shapes_and_perpx_figures() {
    let s = start("fapi-public", false);
    let (status, info) = s.get("/fapi/v1/exchangeInfo");
    assert_eq!(status, 200, "{info}");
    let btc = info["symbols"].as_array().unwrap().iter().find(|x| x["symbol"] == "BTCUSDT").expect("BTCUSDT");
    let native = s.get("/api/v1/markets").1["markets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["market"] == "BTC-PERP")
        .unwrap()
        .clone();
    let filter = |t: &str| btc["filters"].as_array().unwrap().iter().find(|f| f["filterType"] == t).unwrap().clone();
    assert_eq!(filter("PRICE_FILTER")["tickSize"], native["tick_size"]);
    assert_eq!(filter("LOT_SIZE")["stepSize"], native["lot_size"]);
    assert_eq!(filter("LOT_SIZE")["minQty"], native["min_qty"]);
    assert_eq!(filter("MIN_NOTIONAL")["notional"], native["min_notional"]);
    assert_eq!((btc["contractType"].as_str(), btc["marginAsset"].as_str()), (Some("PERPETUAL"), Some("USDT")));

    let mark = s.mark("BTC-PERP");
    let (_, p) = s.get("/fapi/v1/premiumIndex?symbol=BTCUSDT");
    assert_eq!(p["markPrice"], json!(mark));
    let (_, all) = s.get("/fapi/v1/premiumIndex");
    assert_eq!(all.as_array().map(Vec::len), Some(2), "no symbol: every market, as an array");
    let (_, depth) = s.get("/fapi/v1/depth?symbol=BTCUSDT&limit=5");
    assert_eq!(depth["lastUpdateId"], state(&s)["seq"], "the book's update id is the engine's sequence number");
    assert_eq!(s.get("/fapi/v1/ping"), (200, json!({})));
    // Errors in Binance's shape.
    assert_eq!(code(&s.get("/fapi/v1/depth?symbol=DOGEUSDT")), (400, -1121));
    assert_eq!(code(&s.get("/fapi/v1/depth?symbol=BTCUSDT&limit=7")), (400, -1130));
    assert_eq!(code(&s.get("/fapi/v1/depth?symbol=BTCUSDT&colour=red")), (400, -1104));
    assert_eq!(code(&s.get("/fapi/v1/depth")), (400, -1102));
    assert_eq!(code(&s.get("/fapi/v9/nothing")), (404, -1000));
}

#[test]
fn signatures_follow_binances_rules_and_refusals_change_nothing() {
    let s = start("fapi-sig", false);
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let order = format!("symbol=BTCUSDT&side=SELL&type=LIMIT&quantity=0.010&price={mark}&timeInForce=GTC");
    let before = state(&s);
    let ts = stamp();
    let query = format!("{order}&timestamp={ts}");
    let good = sign(&a.secret, query.as_bytes());
    // Wrong secret, wrong key, no key, tampered parameters, expired, replayed.
    let other = sign(&s.traders[1].secret, query.as_bytes());
    assert_eq!(code(&send(&s, &a.key, "POST", "/fapi/v1/order", &format!("{query}&signature={other}"))), (400, -1022));
    assert_eq!(
        code(&send(&s, "pk_nobody", "POST", "/fapi/v1/order", &format!("{query}&signature={good}"))),
        (401, -2015)
    );
    let tampered = query.replace("0.010", "0.020");
    assert_eq!(
        code(&send(&s, &a.key, "POST", "/fapi/v1/order", &format!("{tampered}&signature={good}"))),
        (400, -1022)
    );
    let old = format!("{order}&timestamp={}", ts - 60_000);
    let stale = sign(&a.secret, old.as_bytes());
    assert_eq!(code(&send(&s, &a.key, "POST", "/fapi/v1/order", &format!("{old}&signature={stale}"))), (400, -1021));
    let no_sig = send(&s, &a.key, "POST", "/fapi/v1/order", &query);
    assert_eq!(code(&no_sig), (400, -1102));
    let mut r = s.agent.get(format!("{}/fapi/v2/balance?{query}&signature={good}", s.base)).call().unwrap();
    let v: Value = r.body_mut().read_json().unwrap();
    assert_eq!((r.status().as_u16(), v["code"].as_i64()), (401, Some(-2014)), "no X-MBX-APIKEY: {v}");
    assert_eq!(state(&s), before, "no refusal changed anything");
    let placed = send(&s, &a.key, "POST", "/fapi/v1/order", &format!("{query}&signature={good}"));
    assert_eq!(placed.0, 200, "{}", placed.1);
    assert_eq!((placed.1["status"].as_str(), placed.1["origQty"].as_str()), (Some("NEW"), Some("0.010")));
    let after = state(&s);
    assert_eq!(code(&send(&s, &a.key, "POST", "/fapi/v1/order", &format!("{query}&signature={good}"))), (400, -1022));
    assert_eq!(state(&s), after, "the replay was refused before the engine");
    // Bad orders: engine refusals mapped to the codes clients know.
    for (params, want) in [
        (format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=500&price={mark}&timeInForce=GTC"), -2019),
        (format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.0105&price={mark}&timeInForce=GTC"), -4023),
        (format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.010&price={mark}5&timeInForce=GTC"), -4014),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010&reduceOnly=true".to_owned(), -2022),
        ("symbol=DOGEUSDT&side=BUY&type=MARKET&quantity=1".to_owned(), -1121),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010&positionSide=LONG".to_owned(), -4061),
        ("symbol=BTCUSDT&side=UP&type=MARKET&quantity=0.010".to_owned(), -1130),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.010".to_owned(), -1102),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010&colour=red".to_owned(), -1104),
    ] {
        let before = s.account(a);
        let r = binance(&s, a, "POST", "/fapi/v1/order", &params);
        assert_eq!(code(&r), (400, want), "{params}: {}", r.1);
        assert!(r.1["msg"].as_str().is_some_and(|m| !m.is_empty()));
        let mut now = s.account(a);
        now.as_object_mut().unwrap().remove("seq");
        let mut then = before;
        then.as_object_mut().unwrap().remove("seq");
        assert_eq!(now, then, "{params}: the account is unchanged");
    }
    // A read-only key can read but not trade.
    let (status, key) = s.signed(&s.admin, "POST", "/api/v1/admin/keys", "{\"account\": 1, \"scopes\": [\"read\"]}");
    assert_eq!(status, 200, "{key}");
    let reader = Key { key: key["key"].as_str().unwrap().into(), secret: key["secret"].as_str().unwrap().into() };
    assert_eq!(binance(&s, &reader, "GET", "/fapi/v2/balance", "").0, 200);
    let r = binance(&s, &reader, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010");
    assert_eq!(code(&r), (401, -2015));
}

#[test]
fn orders_trades_and_positions_through_fapi_match_the_native_api() {
    let s = start("fapi-trade", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark = s.mark("BTC-PERP");
    // A batch: each item answered on its own.
    let batch = json!([
        { "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.030", "price": mark, "timeInForce": "GTC", "newClientOrderId": "maker-1" },
        { "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.0105", "price": mark, "timeInForce": "GTC" },
    ]);
    let params = format!("batchOrders={}", urlencode(&batch.to_string()));
    let (status, answers) = binance(&s, a, "POST", "/fapi/v1/batchOrders", &params);
    assert_eq!(status, 200, "{answers}");
    assert_eq!(answers[0]["clientOrderId"], "maker-1");
    assert_eq!(answers[1]["code"], -4023, "{answers}");
    let maker_id = answers[0]["orderId"].as_u64().unwrap();
    // B takes 0.010: the maker is partly filled.
    let (status, taken) =
        binance(&s, b, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010");
    assert_eq!((status, taken["status"].as_str()), (200, Some("FILLED")), "{taken}");
    assert_eq!(taken["avgPrice"], json!(mark));
    let (_, o) = binance(&s, a, "GET", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=maker-1");
    assert_eq!(
        (o["orderId"].as_u64(), o["status"].as_str(), o["executedQty"].as_str()),
        (Some(maker_id), Some("PARTIALLY_FILLED"), Some("0.010"))
    );
    // Market data from the trade: a candle, 24-hour statistics, the trade list.
    let (_, klines) = s.get("/fapi/v1/klines?symbol=BTCUSDT&interval=1m");
    let k = &klines[0];
    assert_eq!(
        (k[1].clone(), k[4].clone(), k[5].as_str(), k[8].as_u64()),
        (json!(mark), json!(mark), Some("0.010"), Some(1))
    );
    let (_, day) = s.get("/fapi/v1/ticker/24hr?symbol=BTCUSDT");
    assert_eq!(
        (day["lastPrice"].clone(), day["volume"].as_str(), day["count"].as_u64()),
        (json!(mark), Some("0.010"), Some(1))
    );
    let (_, trades) = s.get("/fapi/v1/trades?symbol=BTCUSDT");
    assert_eq!((trades[0]["qty"].as_str(), trades[0]["isBuyerMaker"].as_bool()), (Some("0.010"), Some(false)));
    let (_, open) = binance(&s, a, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT");
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    // Trades: one, seen from both sides, with the fees the native account shows.
    let (_, ta) = binance(&s, a, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT");
    let (_, tb) = binance(&s, b, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT");
    assert_eq!(
        (ta[0]["id"].clone(), ta[0]["maker"].as_bool(), tb[0]["buyer"].as_bool()),
        (tb[0]["id"].clone(), Some(true), Some(true))
    );
    let native_b = s.account(b);
    assert_eq!(tb[0]["commission"], native_b["positions"][0]["fees_paid"]);
    // Positions against the native view.
    let (_, risk) = binance(&s, b, "GET", "/fapi/v3/positionRisk", "symbol=BTCUSDT");
    assert_eq!(risk[0]["positionAmt"], native_b["positions"][0]["size"]);
    let liquidation = native_b["positions"][0]["liquidation_price"].as_str().unwrap_or("0");
    assert_eq!(risk[0]["liquidationPrice"], json!(liquidation), "Binance says 0 where there is none");
    let (_, acct) = binance(&s, b, "GET", "/fapi/v2/account", "");
    assert_eq!(acct["availableBalance"], native_b["withdrawable"]);
    assert_eq!(acct["totalUnrealizedProfit"], native_b["unrealized_pnl"]);
    // Income: B's commission.
    let (_, income) = binance(&s, b, "GET", "/fapi/v1/income", "incomeType=COMMISSION");
    assert_eq!(income.as_array().map(Vec::len), Some(1), "{income}");
    // Cancel the rest, then the order is CANCELED with its fill kept.
    let (status, c) = binance(&s, a, "DELETE", "/fapi/v1/order", &format!("symbol=BTCUSDT&orderId={maker_id}"));
    assert_eq!(
        (status, c["status"].as_str(), c["executedQty"].as_str()),
        (200, Some("CANCELED"), Some("0.010")),
        "{c}"
    );
    assert_eq!(
        code(&binance(&s, a, "DELETE", "/fapi/v1/order", &format!("symbol=BTCUSDT&orderId={maker_id}"))),
        (400, -2011)
    );
    assert_eq!(code(&binance(&s, a, "GET", "/fapi/v1/order", "symbol=BTCUSDT&orderId=99999")), (400, -2013));
    let (_, all) = binance(&s, a, "GET", "/fapi/v1/allOrders", "symbol=BTCUSDT");
    assert_eq!(all.as_array().map(Vec::len), Some(1), "the refused batch item never became an order");
    // Leverage, margin type, one-way mode, listen keys.
    let (_, lev) = binance(&s, a, "POST", "/fapi/v1/leverage", "symbol=ETHUSDT&leverage=7");
    assert_eq!(lev["leverage"], 7);
    assert_eq!(code(&binance(&s, a, "POST", "/fapi/v1/leverage", "symbol=ETHUSDT&leverage=500")), (400, -4028));
    assert_eq!(binance(&s, a, "POST", "/fapi/v1/marginType", "symbol=ETHUSDT&marginType=ISOLATED").1["code"], 200);
    assert_eq!(
        code(&binance(&s, a, "POST", "/fapi/v1/marginType", "symbol=ETHUSDT&marginType=ISOLATED")),
        (400, -4046)
    );
    assert_eq!(binance(&s, a, "GET", "/fapi/v1/positionSide/dual", "").1, json!({ "dualSidePosition": false }));
    assert_eq!(code(&binance(&s, a, "POST", "/fapi/v1/positionSide/dual", "dualSidePosition=true")), (400, -4068));
    let (_, lk) = send(&s, &a.key, "POST", "/fapi/v1/listenKey", "");
    let (_, again) = send(&s, &a.key, "POST", "/fapi/v1/listenKey", "");
    assert_eq!(lk["listenKey"], again["listenKey"], "one listen key per API key, extended");
    assert_eq!(send(&s, &a.key, "PUT", "/fapi/v1/listenKey", "").0, 200);
    assert_eq!(send(&s, &a.key, "DELETE", "/fapi/v1/listenKey", "").0, 200);
    assert_eq!(code(&send(&s, &a.key, "PUT", "/fapi/v1/listenKey", "")), (400, -1125));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs one of the Python client scripts against a fresh server; `None` when no Python with
/// the clients is configured outside CI (CI must have one).
fn python_client(script: &str) -> Option<()> {
    let Some(python) = std::env::var_os("PERPX_BINANCE_PYTHON") else {
        assert!(std::env::var_os("CI").is_none(), "CI must set PERPX_BINANCE_PYTHON (see .ci/run)");
        eprintln!("skipped: set PERPX_BINANCE_PYTHON to a Python with tests/binance/requirements.txt installed");
        return None;
    };
    let s = start(&format!("fapi-{script}"), false);
    let keys = json!(s.traders.iter().map(|k| [k.key.clone(), k.secret.clone()]).collect::<Vec<_>>());
    let out = std::process::Command::new(python)
        .arg(format!("{}/tests/binance/{script}", env!("CARGO_MANIFEST_DIR")))
        .env("PERPX_BASE", &s.base)
        .env("PERPX_KEYS", keys.to_string())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    Some(())
}

#[test]
fn ccxt_binanceusdm_trades_on_perpx_unchanged() {
    python_client("ccxt_roundtrip.py");
}

#[test]
fn binance_futures_connector_trades_and_follows_its_user_data_stream() {
    python_client("connector_roundtrip.py");
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn ws(s: &Server, path: &str) -> Socket {
    let (ws, _) = tungstenite::connect(format!("{}{path}", s.base.replace("http://", "ws://"))).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_ref() {
        t.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    }
    ws
}

/// Reads until `pred` holds for a message; returns it.
fn until(ws: &mut Socket, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if pred(&v) {
                    return v;
                }
            }
            tungstenite::Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

/// Market streams in Binance's combined shape, and the user-data streams of a liquidation: the
/// bankrupt account gets `MARGIN_CALL` and its liquidation order's updates, the deleveraged
/// winner perpx's `ADL_NOTICE`, in the same sequence step as the mark move.
#[test]
fn binance_streams_carry_book_trades_marks_and_the_default_waterfall() {
    let s = start("fapi-ws", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mut market = ws(&s, "/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade/btcusdt@markPrice@1s");
    let lk = |k: &Key| send(&s, &k.key, "POST", "/fapi/v1/listenKey", "").1["listenKey"].as_str().unwrap().to_owned();
    let (mut ua, mut ub) = (ws(&s, &format!("/ws/{}", lk(a))), ws(&s, &format!("/ws/{}", lk(b))));
    let unknown = tungstenite::connect(format!("{}/ws/not-a-key", s.base.replace("http://", "ws://")));
    assert!(matches!(unknown, Err(tungstenite::Error::Http(r)) if r.status() == 400), "an unknown listen key");

    // A keeps 3,000 USD and goes 50x long 1 BTC against B's short.
    assert_eq!(s.signed(a, "POST", "/api/v1/withdraw", "{\"amount\": \"97000\"}").0, 200);
    assert_eq!(binance(&s, a, "POST", "/fapi/v1/leverage", "symbol=BTCUSDT&leverage=50").0, 200);
    let mark = s.mark("BTC-PERP");
    let sell = format!("symbol=BTCUSDT&side=SELL&type=LIMIT&quantity=1.000&price={mark}&timeInForce=GTC");
    let (status, maker) = binance(&s, b, "POST", "/fapi/v1/order", &sell);
    assert_eq!(status, 200, "{maker}");
    let depth = until(&mut market, |v| v["stream"] == "btcusdt@depth@100ms");
    let d = &depth["data"];
    assert_eq!((d["e"].as_str(), d["a"][0][0].as_str()), (Some("depthUpdate"), Some(mark.as_str())), "{depth}");
    // The first diff of this book: nothing before it, and `u` is the engine's sequence number
    // of the order that made it (nothing else ran since on this quiet venue).
    assert_eq!((d["pu"].as_u64(), d["u"].clone()), (Some(0), state(&s)["seq"].clone()), "{d}");
    assert!(d["U"].as_u64() <= d["u"].as_u64(), "{d}");
    let buy = format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1.000&price={mark}&timeInForce=IOC");
    assert_eq!(binance(&s, a, "POST", "/fapi/v1/order", &buy).0, 200);
    let trade = until(&mut market, |v| v["stream"] == "btcusdt@aggTrade");
    assert_eq!((trade["data"]["p"].as_str(), trade["data"]["q"].as_str()), (Some(mark.as_str()), Some("1.000")));
    let m = until(&mut market, |v| v["stream"] == "btcusdt@markPrice@1s");
    assert_eq!(m["data"]["p"], json!(mark));
    let fill = until(&mut ub, |v| v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["x"] == "TRADE");
    assert_eq!((fill["o"]["i"].clone(), fill["o"]["X"].as_str()), (maker["orderId"].clone(), Some("FILLED")));

    // The mark falls 5 %: A is bankrupt; with no bids and no liquidator, B is deleveraged.
    let ticks: i64 = mark.replace('.', "").parse().unwrap();
    let low = format!("{}.{}", ticks * 95 / 100 / 10, ticks * 95 / 100 % 10);
    let cmd = json!({ "type": "set_mark", "market": "BTC-PERP", "price": low }).to_string();
    let (status, v) = s.signed(&s.admin, "POST", "/api/v1/admin/command", &cmd);
    assert_eq!(status, 200, "{v}");
    let call = until(&mut ua, |v| v["e"] == "MARGIN_CALL");
    assert_eq!(call["p"][0]["s"], "BTCUSDT", "{call}");
    let adl = until(&mut ub, |v| v["e"] == "ADL_NOTICE");
    assert_eq!(adl["seq"], v["seq"], "in the mark move's sequence step: {adl}");
    assert_eq!(adl["s"], "BTCUSDT");
    let update = until(&mut ub, |v| v["e"] == "ACCOUNT_UPDATE");
    assert_eq!(update["a"]["m"], "ADL", "{update}");
}
