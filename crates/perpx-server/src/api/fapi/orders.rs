//! A Binance order object folded from perpx's events about one order.
//!
//! perpx publishes what happened (accepted, filled, amended, cancelled, a stop triggered);
//! Binance clients read the order's state after it (status, executed quantity, cumulative quote,
//! average price). [`OrderState::fold`] turns the first into the second — one pure function used
//! by the REST answers (events from the acknowledgement or the history read model) and the
//! `ORDER_TRADE_UPDATE` stream, so the two can't disagree.

use serde_json::{Value, json};

use super::SymbolMap;
use super::amount::Amount;

/// What the last event did to the order (`ORDER_TRADE_UPDATE`'s execution fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Execution {
    /// `NEW`, `TRADE`, `CANCELED`, `EXPIRED`, `AMENDMENT`.
    pub kind: &'static str,
    /// Last filled quantity and price (a trade).
    pub qty: String,
    /// Last fill price.
    pub price: String,
    /// The fee of this fill (negative: a rebate).
    pub fee: String,
    /// Trade id.
    pub trade_id: u64,
    /// Whether the order was the maker.
    pub maker: bool,
}

/// One order's state, Binance's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// perpx order id (a stop keeps its id when it triggers).
    pub order_id: u64,
    /// Owner.
    pub account: u64,
    /// perpx market.
    pub market: String,
    /// Client order id (`autoclose-<id>` for a liquidation order, as on Binance).
    pub client_id: String,
    /// `BUY` / `SELL`.
    pub side: &'static str,
    /// `LIMIT`, `MARKET`, `STOP`, `STOP_MARKET`, `TAKE_PROFIT`, `TAKE_PROFIT_MARKET`.
    pub kind: &'static str,
    /// `GTC`, `IOC`, `FOK`, `GTX`.
    pub tif: &'static str,
    /// Limit price (`0` for market orders).
    pub price: String,
    /// Trigger price (`0` unless a stop).
    pub stop_price: String,
    /// `MARK_PRICE` or `CONTRACT_PRICE`.
    pub working_type: &'static str,
    /// `EXPIRE_TAKER`, `EXPIRE_MAKER`, `EXPIRE_BOTH`.
    pub stp: &'static str,
    /// Size ordered (after amendments: executed + open).
    pub orig_qty: Amount,
    /// Size filled.
    pub executed: Amount,
    /// Σ price × size of the fills.
    pub cum_quote: Amount,
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELED`, `EXPIRED`.
    pub status: &'static str,
    /// Reduce-only.
    pub reduce_only: bool,
    /// First event's time (ms).
    pub time: i64,
    /// Last event's time (ms).
    pub update_time: i64,
    /// When a stop triggered (ms).
    pub triggered_at: Option<i64>,
    /// Decimals of sizes and prices in this market.
    qty_scale: u32,
    price_scale: u32,
    /// The last change.
    pub last: Execution,
}

fn side(v: &Value) -> &'static str {
    if v["side"] == "sell" { "SELL" } else { "BUY" }
}

fn amount(v: &Value, field: &str) -> Amount {
    v[field].as_str().and_then(Amount::parse).unwrap_or_default()
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or("0").to_owned()
}

fn tif(v: &Value) -> &'static str {
    match v["tif"].as_str() {
        Some("ioc") => "IOC",
        Some("fok") => "FOK",
        Some("post_only") => "GTX",
        _ => "GTC",
    }
}

impl OrderState {
    /// Starts an order from its first event (`order_accepted`, `stop_accepted` or
    /// `liquidation_order`); `None` for any other.
    fn start(e: &Value) -> Option<Self> {
        let ts = e["ts"].as_i64().unwrap_or(0);
        let kind = e["type"].as_str()?;
        let qty = amount(e, "qty");
        let mut o = Self {
            order_id: e["order_id"].as_u64().or_else(|| e["stop_id"].as_u64())?,
            account: e["account"].as_u64()?,
            market: e["market"].as_str()?.to_owned(),
            client_id: e["client_id"].as_str().unwrap_or_default().to_owned(),
            side: side(e),
            kind: "LIMIT",
            tif: tif(e),
            price: "0".into(),
            stop_price: "0".into(),
            working_type: "CONTRACT_PRICE",
            stp: match e["stp"].as_str() {
                Some("expire_maker") => "EXPIRE_MAKER",
                Some("expire_both") => "EXPIRE_BOTH",
                _ => "EXPIRE_TAKER",
            },
            orig_qty: qty,
            executed: Amount { units: 0, scale: qty.scale },
            cum_quote: Amount::default(),
            status: "NEW",
            reduce_only: e["reduce_only"].as_bool().unwrap_or(false),
            time: ts,
            update_time: ts,
            triggered_at: None,
            qty_scale: qty.scale,
            price_scale: 0,
            last: Execution { kind: "NEW", ..Execution::default() },
        };
        match kind {
            "order_accepted" => {
                if e["order_type"] == "market" {
                    o.kind = "MARKET";
                } else {
                    o.price = text(e, "price");
                }
            }
            "stop_accepted" => {
                let limit = e["price"].is_string();
                o.kind = match (e["stop_type"].as_str(), limit) {
                    (Some("take_profit_market" | "take_profit_limit"), false) => "TAKE_PROFIT_MARKET",
                    (Some("take_profit_market" | "take_profit_limit"), true) => "TAKE_PROFIT",
                    (_, false) => "STOP_MARKET",
                    (_, true) => "STOP",
                };
                if limit {
                    o.price = text(e, "price");
                }
                o.stop_price = text(e, "trigger_price");
                o.working_type = if e["trigger_by"] == "last" { "CONTRACT_PRICE" } else { "MARK_PRICE" };
            }
            "liquidation_order" => {
                o.tif = "IOC";
                o.price = text(e, "limit");
                o.client_id = format!("autoclose-{}", o.order_id);
                o.reduce_only = true;
            }
            _ => return None,
        }
        o.price_scale = Amount::parse(&o.price).map_or(0, |p| p.scale).max(amount(e, "trigger_price").scale);
        Some(o)
    }

    /// Applies one more event about this order.
    fn apply(&mut self, e: &Value) {
        let ts = e["ts"].as_i64().unwrap_or(self.update_time);
        match e["type"].as_str().unwrap_or_default() {
            "order_accepted" => {
                // A triggered stop enters the book under its own id: the order lives on.
                self.last = Execution { kind: "NEW", ..Execution::default() };
            }
            "stop_triggered" => self.triggered_at = Some(ts),
            "fill" => {
                let maker = e["maker_order_id"].as_u64() == Some(self.order_id);
                let (remaining, fee) =
                    if maker { ("maker_remaining", "maker_fee") } else { ("taker_remaining", "taker_fee") };
                let (price, qty) = (amount(e, "price"), amount(e, "qty"));
                self.price_scale = self.price_scale.max(price.scale);
                self.executed = self.executed.add(qty);
                self.cum_quote = self.cum_quote.add(price.mul(qty));
                self.status = if amount(e, remaining).is_zero() { "FILLED" } else { "PARTIALLY_FILLED" };
                self.last = Execution {
                    kind: "TRADE",
                    qty: text(e, "qty"),
                    price: text(e, "price"),
                    fee: text(e, fee),
                    trade_id: e["trade_id"].as_u64().unwrap_or(0),
                    maker,
                };
            }
            "order_amended" => {
                self.price = text(e, "price");
                self.orig_qty = self.executed.add(amount(e, "qty"));
                self.last = Execution { kind: "AMENDMENT", ..Execution::default() };
            }
            "order_cancelled" => {
                let expired = matches!(
                    e["reason"].as_str(),
                    Some("ioc_remainder" | "market_remainder" | "self_trade_prevention" | "reduce_only")
                );
                self.status = if expired { "EXPIRED" } else { "CANCELED" };
                self.last = Execution { kind: self.status, ..Execution::default() };
            }
            "triggered_order_rejected" => {
                self.status = "EXPIRED";
                self.last = Execution { kind: "EXPIRED", ..Execution::default() };
            }
            _ => return,
        }
        self.update_time = ts;
    }

    /// The order after `events` (any events, oldest first; those not about it are skipped), or
    /// `None` if its acceptance is not among them.
    pub fn fold<'a>(order_id: u64, events: impl IntoIterator<Item = &'a Value>) -> Option<Self> {
        let mut state: Option<Self> = None;
        for e in events {
            Self::step(&mut state, order_id, e);
        }
        state
    }

    /// Applies `e` to the order `order_id` (`state` is `None` until its acceptance); `false`
    /// when `e` is not about it.
    pub fn step(state: &mut Option<Self>, order_id: u64, e: &Value) -> bool {
        if !Self::is_about(order_id, e) {
            return false;
        }
        match state {
            None => *state = Self::start(e),
            Some(o) => o.apply(e),
        }
        true
    }

    /// Whether event `e` concerns order `order_id`.
    #[must_use]
    pub fn is_about(order_id: u64, e: &Value) -> bool {
        ["order_id", "stop_id", "maker_order_id", "taker_order_id"].iter().any(|k| e[*k].as_u64() == Some(order_id))
    }

    /// The orders of `account` that event `e` concerns (a fill names two orders, one of which
    /// may be another account's).
    #[must_use]
    pub fn orders_of(account: u64, e: &Value) -> Vec<u64> {
        if e["type"] == "fill" {
            let mut v = Vec::new();
            if e["maker_account"].as_u64() == Some(account) {
                v.extend(e["maker_order_id"].as_u64());
            }
            if e["taker_account"].as_u64() == Some(account) {
                v.extend(e["taker_order_id"].as_u64());
            }
            return v;
        }
        if e["account"].as_u64() != Some(account) || e["type"] == "duplicate_client_order_id" {
            return Vec::new();
        }
        e["order_id"].as_u64().or_else(|| e["stop_id"].as_u64()).into_iter().collect()
    }

    /// Whether it can still trade (or trigger).
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.status, "NEW" | "PARTIALLY_FILLED")
    }

    /// `cumQuote ÷ executedQty`, at the market's price decimals (`0` before any fill).
    #[must_use]
    pub fn avg_price(&self) -> String {
        self.cum_quote.div(self.executed, self.price_scale).map_or_else(|| "0".into(), |a| a.to_string())
    }

    /// The Binance order object (`GET /fapi/v1/order`).
    #[must_use]
    pub fn to_binance(&self, symbols: &SymbolMap) -> Value {
        json!({
            "orderId": self.order_id,
            "symbol": symbols.binance(&self.market),
            "status": self.status,
            "clientOrderId": self.client_id,
            "price": self.price,
            "avgPrice": self.avg_price(),
            "origQty": self.orig_qty.rescale(self.qty_scale).to_string(),
            "executedQty": self.executed.rescale(self.qty_scale).to_string(),
            "cumQty": self.executed.rescale(self.qty_scale).to_string(),
            "cumQuote": self.cum_quote.to_string(),
            "timeInForce": self.tif,
            "type": self.kind,
            "origType": self.kind,
            "reduceOnly": self.reduce_only,
            "closePosition": false,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": self.stop_price,
            "workingType": self.working_type,
            "priceProtect": false,
            "priceMatch": "NONE",
            "selfTradePreventionMode": self.stp,
            "goodTillDate": 0,
            "time": self.time,
            "updateTime": self.update_time,
        })
    }

    /// Whether it was placed as a stop (a conditional "algo" order on Binance).
    #[must_use]
    pub fn is_conditional(&self) -> bool {
        self.stop_price != "0"
    }

    /// The Binance algo-order object (`/fapi/v1/algoOrder`) of a stop.
    #[must_use]
    pub fn to_algo(&self, symbols: &SymbolMap) -> Value {
        let status = match (self.status, self.triggered_at) {
            ("CANCELED", _) => "CANCELED",
            ("EXPIRED", _) => "EXPIRED",
            ("FILLED", _) => "FINISHED",
            (_, Some(_)) => "TRIGGERED",
            _ => "NEW",
        };
        json!({
            "algoId": self.order_id,
            "clientAlgoId": self.client_id,
            "algoType": "CONDITIONAL",
            "orderType": self.kind,
            "symbol": symbols.binance(&self.market),
            "side": self.side,
            "positionSide": "BOTH",
            "timeInForce": self.tif,
            "quantity": self.orig_qty.rescale(self.qty_scale).to_string(),
            "algoStatus": status,
            "triggerPrice": self.stop_price,
            "price": self.price,
            "icebergQuantity": null,
            "selfTradePreventionMode": self.stp,
            "workingType": self.working_type,
            "priceMatch": "NONE",
            "closePosition": false,
            "priceProtect": false,
            "reduceOnly": self.reduce_only,
            "actualOrderId": if self.triggered_at.is_some() { self.order_id.to_string() } else { String::new() },
            "actualPrice": self.avg_price(),
            "createTime": self.time,
            "updateTime": self.update_time,
            "triggerTime": self.triggered_at.unwrap_or(0),
            "goodTillDate": 0,
        })
    }

    /// The `o` object of an `ORDER_TRADE_UPDATE` after the last event.
    #[must_use]
    pub fn to_update(&self, symbols: &SymbolMap, realized_pnl: &str) -> Value {
        let l = &self.last;
        json!({
            "s": symbols.binance(&self.market),
            "c": self.client_id,
            "S": self.side,
            "o": self.kind,
            "f": self.tif,
            "q": self.orig_qty.rescale(self.qty_scale).to_string(),
            "p": self.price,
            "ap": self.avg_price(),
            "sp": self.stop_price,
            "x": l.kind,
            "X": self.status,
            "i": self.order_id,
            "l": if l.qty.is_empty() { "0" } else { &l.qty },
            "z": self.executed.rescale(self.qty_scale).to_string(),
            "L": if l.price.is_empty() { "0" } else { &l.price },
            "N": super::MARGIN_ASSET,
            "n": if l.fee.is_empty() { "0" } else { &l.fee },
            "T": self.update_time,
            "t": l.trade_id,
            "b": "0",
            "a": "0",
            "m": l.maker,
            "R": self.reduce_only,
            "wt": self.working_type,
            "ot": self.kind,
            "ps": "BOTH",
            "cp": false,
            "rp": realized_pnl,
            "pP": false,
            "si": 0,
            "ss": 0,
            "V": self.stp,
            "pm": "NONE",
            "gtd": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(id: u64, qty: &str) -> Value {
        json!({ "type": "order_accepted", "ts": 10, "order_id": id, "account": 1, "market": "BTC-PERP",
                "side": "sell", "order_type": "limit", "price": "86000.0", "tif": "gtc", "qty": qty,
                "client_id": "x-abc", "stp": "expire_taker", "reduce_only": false })
    }

    fn fill(maker: u64, taker: u64, price: &str, qty: &str, maker_left: &str) -> Value {
        json!({ "type": "fill", "ts": 11, "market": "BTC-PERP", "trade_id": 7, "price": price, "qty": qty,
                "taker_side": "buy", "maker_order_id": maker, "maker_account": 1, "maker_remaining": maker_left,
                "taker_order_id": taker, "taker_account": 2, "taker_remaining": "0.000",
                "maker_fee": "0.172000", "taker_fee": "0.430000" })
    }

    #[test]
    fn fills_accumulate_into_executed_quantity_quote_and_average_price() {
        let events = [
            accepted(5, "0.030"),
            fill(5, 6, "86000.0", "0.010", "0.020"),
            fill(5, 8, "86000.0", "0.005", "0.015"),
            json!({ "type": "order_amended", "ts": 12, "order_id": 5, "price": "86100.0", "qty": "0.005" }),
        ];
        let o = OrderState::fold(5, &events).unwrap();
        assert_eq!((o.status, o.side, o.kind, o.tif), ("PARTIALLY_FILLED", "SELL", "LIMIT", "GTC"));
        let b = o.to_binance(&SymbolMap::default());
        assert_eq!(b["symbol"], "BTCUSDT");
        assert_eq!(b["executedQty"], "0.015");
        assert_eq!(b["origQty"], "0.020", "executed 0.015 + 0.005 left open after the amendment");
        assert_eq!(b["cumQuote"], "1290.0000");
        assert_eq!(b["avgPrice"], "86000.0");
        assert_eq!(b["price"], "86100.0");
        assert_eq!((b["time"].as_i64(), b["updateTime"].as_i64()), (Some(10), Some(12)));
        let cancelled = [
            &events[..],
            &[json!({ "type": "order_cancelled", "ts": 13, "order_id": 5, "qty": "0.005", "reason": "user_request" })],
        ]
        .concat();
        assert_eq!(OrderState::fold(5, &cancelled).unwrap().status, "CANCELED");
    }

    #[test]
    fn the_taker_side_of_a_fill_and_an_ioc_remainder() {
        let mut taker = accepted(6, "0.020");
        taker["side"] = json!("buy");
        taker["tif"] = json!("ioc");
        let events = [
            taker,
            fill(5, 6, "86000.0", "0.010", "0.000"),
            json!({ "type": "order_cancelled", "ts": 11, "order_id": 6, "qty": "0.010", "reason": "ioc_remainder" }),
        ];
        let o = OrderState::fold(6, &events).unwrap();
        assert_eq!((o.status, o.tif, o.executed.to_string().as_str()), ("EXPIRED", "IOC", "0.010"));
        assert!(!o.is_open());
        // The maker's fold over the same events ignores what is not about it.
        assert_eq!(OrderState::fold(5, &events), None, "its acceptance is not among them");
    }

    #[test]
    fn a_stop_keeps_its_type_and_id_when_it_triggers_and_fills() {
        let events = [
            json!({ "type": "stop_accepted", "ts": 1, "stop_id": 9, "account": 2, "market": "BTC-PERP",
                    "side": "buy", "stop_type": "stop_market", "trigger_price": "87000.0", "trigger_by": "mark",
                    "qty": "0.010", "reduce_only": true }),
            json!({ "type": "stop_triggered", "ts": 2, "stop_id": 9, "account": 2, "market": "BTC-PERP" }),
            json!({ "type": "order_accepted", "ts": 2, "order_id": 9, "account": 2, "market": "BTC-PERP",
                    "side": "buy", "order_type": "market", "qty": "0.010", "stp": "expire_taker", "reduce_only": true }),
            fill(5, 9, "87000.5", "0.010", "0.000"),
        ];
        let o = OrderState::fold(9, &events).unwrap();
        assert_eq!((o.kind, o.status, o.working_type), ("STOP_MARKET", "FILLED", "MARK_PRICE"));
        assert_eq!((o.stop_price.as_str(), o.avg_price().as_str()), ("87000.0", "87000.5"));
        assert!(o.reduce_only);
        let u = o.to_update(&SymbolMap::default(), "0");
        assert_eq!((u["x"].as_str(), u["X"].as_str(), u["l"].as_str()), (Some("TRADE"), Some("FILLED"), Some("0.010")));
    }
}
