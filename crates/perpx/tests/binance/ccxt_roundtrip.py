"""ccxt's binanceusdm client, unchanged, trading on a real `perpx serve`.

Two accounts trade with each other through ccxt; positions, fees and balances are checked
against perpx's native API. Run by crates/perpx/tests/binance.rs (which starts the server) with:

    PERPX_BASE=http://127.0.0.1:PORT PERPX_KEYS='[[key, secret], [key, secret]]' python ccxt_roundtrip.py
"""

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
from decimal import Decimal

import ccxt

BASE = os.environ["PERPX_BASE"]
KEYS = json.loads(os.environ["PERPX_KEYS"])
SYMBOL = "BTC/USDT:USDT"
_last_ts = [0]


def native(key, method, path, body=""):
    """A signed request to perpx's native API (the yardstick)."""
    ts = max(int(time.time() * 1000), _last_ts[0] + 1)
    _last_ts[0] = ts
    payload = f"{ts}\n{method}\n{path}\n{body}".encode()
    sig = hmac.new(bytes.fromhex(key[1]), payload, hashlib.sha256).hexdigest()
    req = urllib.request.Request(BASE + path, data=body.encode() if body else None, method=method)
    req.add_header("X-PERPX-APIKEY", key[0])
    req.add_header("X-PERPX-TIMESTAMP", str(ts))
    req.add_header("X-PERPX-SIGNATURE", sig)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def public(path):
    with urllib.request.urlopen(BASE + path) as r:
        return json.loads(r.read())


def client(key):
    ex = ccxt.binanceusdm({"apiKey": key[0], "secret": key[1], "options": {"fetchCurrencies": False}})
    for name, url in list(ex.urls["api"].items()):
        if isinstance(url, str) and url.startswith("https://fapi.binance.com"):
            ex.urls["api"][name] = url.replace("https://fapi.binance.com", BASE)
    return ex


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def position(v, market):
    for p in v["positions"]:
        if p["market"] == market:
            return p
    return None


def main():
    a, b = client(KEYS[0]), client(KEYS[1])
    markets = a.load_markets()
    check(SYMBOL in markets and "ETH/USDT:USDT" in markets, "load_markets lists the perpx markets")
    m = markets[SYMBOL]
    native_market = next(x for x in public("/api/v1/markets")["markets"] if x["market"] == "BTC-PERP")
    check(Decimal(str(m["precision"]["price"])) == Decimal(native_market["tick_size"]), "tick size")
    check(Decimal(str(m["precision"]["amount"])) == Decimal(native_market["lot_size"]), "lot size")
    check(Decimal(str(m["limits"]["cost"]["min"])) == Decimal(native_market["min_notional"]), "min notional")
    check(m["linear"] and m["swap"] and m["settle"] == "USDT", "a linear perpetual settled in USDT")

    ticker = public("/api/v1/ticker?market=BTC-PERP")
    mark = Decimal(ticker["mark_price"])
    tick = Decimal(native_market["tick_size"])
    book = a.fetch_order_book(SYMBOL, 5)
    check("bids" in book and "asks" in book and book["nonce"] is not None, "fetch_order_book")
    t = a.fetch_ticker(SYMBOL)
    check(t["symbol"] == SYMBOL, "fetch_ticker")
    fr = a.fetch_funding_rate(SYMBOL)
    check(Decimal(str(fr["markPrice"])) == mark, "fetch_funding_rate reports perpx's mark")
    check(Decimal(str(fr["fundingRate"])) == Decimal(ticker["predicted_rate"]), "and its predicted rate")

    for ex in (a, b):
        r = ex.set_leverage(10, SYMBOL)
        check(int(r["leverage"]) == 10, "set_leverage 10")
    native_a = native(KEYS[0], "GET", "/api/v1/account")
    collateral_a0 = Decimal(native_a["collateral"])

    # A resting limit order, seen as open, then cancelled.
    far = float(mark * Decimal("1.02") // tick * tick)
    o = a.create_order(SYMBOL, "limit", "sell", 0.01, far)
    check(o["status"] == "open" and o["id"], "create_order limit rests")
    opens = a.fetch_open_orders(SYMBOL)
    check([x["id"] for x in opens] == [o["id"]], "fetch_open_orders shows it")
    c = a.cancel_order(o["id"], SYMBOL)
    check(c["status"] == "canceled", "cancel_order")
    check(a.fetch_open_orders(SYMBOL) == [], "nothing open after the cancel")

    # Post-only: a resting one is accepted as PO, a crossing one refused.
    near = float(mark * Decimal("1.001") // tick * tick)
    maker = a.create_order(SYMBOL, "limit", "sell", 0.02, near, {"postOnly": True})
    check(maker["status"] == "open" and maker["timeInForce"] == "PO", "post-only rests as PO")
    try:
        b.create_order(SYMBOL, "limit", "buy", 0.01, near, {"postOnly": True})
        check(False, "a crossing post-only order is refused")
    except ccxt.ExchangeError as e:
        check("-5022" in str(e), "a crossing post-only order is refused (-5022)")

    # B takes A's offer with a market order: both sides see the trade.
    taken = b.create_order(SYMBOL, "market", "buy", 0.02)
    check(taken["status"] == "closed" and Decimal(str(taken["filled"])) == Decimal("0.02"), "market order fills")
    check(Decimal(str(taken["average"])) == Decimal(str(near)), "at the maker's price")
    ta = a.fetch_my_trades(SYMBOL)
    tb = b.fetch_my_trades(SYMBOL)
    check(len(ta) == 1 and len(tb) == 1 and ta[0]["id"] == tb[0]["id"], "fetch_my_trades: one trade, both sides")
    check(ta[0]["side"] == "sell" and tb[0]["side"] == "buy", "with their sides")
    check(ta[0]["takerOrMaker"] == "maker" and tb[0]["takerOrMaker"] == "taker", "and roles")

    # Positions and fees against the native API.
    native_a, native_b = native(KEYS[0], "GET", "/api/v1/account"), native(KEYS[1], "GET", "/api/v1/account")
    pa, pb = position(native_a, "BTC-PERP"), position(native_b, "BTC-PERP")
    check(Decimal(pa["size"]) == Decimal("-0.02") and Decimal(pb["size"]) == Decimal("0.02"), "native sizes")
    positions = {p["info"]["positionAmt"]: p for p in a.fetch_positions([SYMBOL]) + b.fetch_positions([SYMBOL])}
    check(set(positions) == {"-0.020", "0.020"}, "fetch_positions agrees on both sizes")
    for p in positions.values():
        check(Decimal(str(p["entryPrice"])) == Decimal(str(near)), "entry price")
        check(p["marginMode"] == "cross" and int(p["leverage"]) == 10, "margin mode and leverage")
    fee_a = Decimal(str(ta[0]["fee"]["cost"]))
    fee_b = Decimal(str(tb[0]["fee"]["cost"]))
    check(fee_a == Decimal(pa["fees_paid"]) and fee_b == Decimal(pb["fees_paid"]), "fees match the native account")
    notional = Decimal(str(near)) * Decimal("0.02")
    check(fee_b == notional * Decimal(native_market["taker_fee"]), "the taker paid the taker rate")
    bal = a.fetch_balance()
    check(Decimal(str(bal["USDT"]["total"])) == Decimal(native_a["equity"]), "fetch_balance: total is the equity")
    check(Decimal(str(bal["USDT"]["free"])) == Decimal(native_a["withdrawable"]), "free is the withdrawable")
    wallet = Decimal(bal["info"]["assets"][0]["walletBalance"])
    check(wallet == Decimal(native_a["collateral"]), "the wallet balance is the collateral")
    check(Decimal(native_a["collateral"]) == collateral_a0 - fee_a, "A's wallet moved by its fee only")

    # Reduce-only: A is short, so a reduce-only sell would increase it and is refused; a
    # reduce-only buy is accepted.
    try:
        a.create_order(SYMBOL, "market", "sell", 0.01, None, {"reduceOnly": True})
        check(False, "a reduce-only order that would increase is refused")
    except ccxt.ExchangeError as e:
        check("-2022" in str(e), "a reduce-only order that would increase is refused (-2022)")
    ro = a.create_order(SYMBOL, "limit", "buy", 0.01, float(mark * Decimal("0.99") // tick * tick), {"reduceOnly": True})
    check(ro["reduceOnly"] is True and ro["status"] == "open", "a reduce-only buy rests")
    a.cancel_order(ro["id"], SYMBOL)

    # A stop: armed, listed, cancelled.
    stop_price = float(mark * Decimal("0.95") // tick * tick)  # a stop-loss under the long
    st = b.create_order(SYMBOL, "STOP_MARKET", "sell", 0.01, None, {"stopPrice": stop_price, "reduceOnly": True})
    check(st["status"] == "open", "create_order stop-market is armed")
    listed = b.fetch_open_orders(SYMBOL, None, None, {"trigger": True})
    check(len(listed) == 1 and Decimal(str(listed[0]["triggerPrice"])) == Decimal(str(stop_price)), "with its trigger")
    check(listed[0]["id"] == st["id"] and listed[0]["reduceOnly"] is True, "listed as a conditional order")
    b.cancel_order(st["id"], SYMBOL, {"trigger": True})
    check(b.fetch_open_orders(SYMBOL, None, None, {"trigger": True}) == [], "and cancelled")

    # Errors clients map to exception types.
    try:
        b.cancel_order("987654321", SYMBOL)
        check(False, "an unknown order raises OrderNotFound")
    except ccxt.OrderNotFound:
        check(True, "an unknown order raises OrderNotFound")
    bad = client([KEYS[0][0], "0" * 64])
    bad.load_markets()
    try:
        bad.fetch_balance()
        check(False, "a bad signature raises AuthenticationError")
    except ccxt.AuthenticationError:
        check(True, "a bad signature raises AuthenticationError")
    print("ccxt round trip: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - print everything the server said
        print("FAILED:", type(e).__name__, e, file=sys.stderr)
        sys.exit(1)
