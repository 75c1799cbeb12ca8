"""binance-futures-connector (Binance's own UMFutures client), unchanged, on a real `perpx serve`:
a trade between two accounts, the maker following it on its user-data stream.

    PERPX_BASE=http://127.0.0.1:PORT PERPX_KEYS='[[key, secret], [key, secret]]' python connector_roundtrip.py
"""

import json
import os
import queue
import sys
import time
from decimal import Decimal

from binance.error import ClientError
from binance.um_futures import UMFutures
from binance.websocket.um_futures.websocket_client import UMFuturesWebsocketClient

BASE = os.environ["PERPX_BASE"]
KEYS = json.loads(os.environ["PERPX_KEYS"])


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def wait_for(q, pred, what, timeout=10.0):
    """The first user-data message matching `pred`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if pred(msg):
            print("ok:", what)
            return msg
    raise AssertionError(f"no user-data message: {what}")


def main():
    a = UMFutures(key=KEYS[0][0], secret=KEYS[0][1], base_url=BASE)
    b = UMFutures(key=KEYS[1][0], secret=KEYS[1][1], base_url=BASE)
    check(abs(a.time()["serverTime"] - time.time() * 1000) < 60_000, "time")
    info = a.exchange_info()
    check(any(s["symbol"] == "ETHUSDT" for s in info["symbols"]), "exchange_info lists ETHUSDT")
    mark = Decimal(a.mark_price(symbol="ETHUSDT")["markPrice"])
    price = (mark * Decimal("1.001")).quantize(Decimal("0.01"))

    # A's user-data stream: listen key over REST, then SUBSCRIBE over the websocket client.
    listen_key = a.new_listen_key()["listenKey"]
    check(len(listen_key) == 64, "new_listen_key")
    messages = queue.Queue()
    ws = UMFuturesWebsocketClient(
        stream_url=BASE.replace("http://", "ws://"),
        on_message=lambda _, m: messages.put(json.loads(m)),
    )
    ws.user_data(listen_key=listen_key, id=1)
    wait_for(messages, lambda m: m.get("id") == 1 and "result" in m, "the subscription is acknowledged")

    order = a.new_order(symbol="ETHUSDT", side="SELL", type="LIMIT", quantity="0.10", price=str(price),
                        timeInForce="GTC", newClientOrderId="connector-maker-1")
    check(order["status"] == "NEW" and order["clientOrderId"] == "connector-maker-1", "new_order rests")
    wait_for(messages, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "NEW"
             and m["o"]["i"] == order["orderId"], "ORDER_TRADE_UPDATE NEW for the resting order")

    taken = b.new_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.10")
    check(taken["status"] == "FILLED" and Decimal(taken["avgPrice"]) == price, "the taker's market order fills")
    fill = wait_for(messages, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE",
                    "ORDER_TRADE_UPDATE TRADE reaches the maker")
    o = fill["o"]
    check(o["X"] == "FILLED" and Decimal(o["z"]) == Decimal("0.10") and Decimal(o["L"]) == price and o["m"] is True,
          "filled in full at its price, as maker")
    update = wait_for(messages, lambda m: m.get("e") == "ACCOUNT_UPDATE", "ACCOUNT_UPDATE follows")
    pos = next(p for p in update["a"]["P"] if p["s"] == "ETHUSDT")
    check(Decimal(pos["pa"]) == Decimal("-0.10"), "with the new position")

    risk = a.get_position_risk(symbol="ETHUSDT")
    check(len(risk) == 1 and Decimal(risk[0]["positionAmt"]) == Decimal("-0.10"), "get_position_risk")
    trades = a.get_account_trades(symbol="ETHUSDT")
    check(len(trades) == 1 and trades[0]["orderId"] == order["orderId"] and trades[0]["maker"], "get_account_trades")
    account = a.account()
    check(Decimal(account["totalWalletBalance"]) > 0 and len(account["positions"]) == 1, "account")
    balance = a.balance()
    check(balance[0]["asset"] == "USDT", "balance")
    try:
        a.cancel_order(symbol="ETHUSDT", orderId=order["orderId"])
        check(False, "cancelling a filled order is refused")
    except ClientError as e:
        check(e.error_code == -2011, "cancelling a filled order is refused (-2011)")
    a.close_listen_key(listenKey=listen_key)
    ws.stop()
    print("binance-futures-connector round trip: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - print everything the server said
        print("FAILED:", type(e).__name__, e, file=sys.stderr)
        sys.exit(1)
