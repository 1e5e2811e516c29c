"""Binance spot REST JSON shapes, as the documentation gives them (decimals as strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.support.simbinance.book import Book
from tests.support.simbinance.records import Deposit, Market, Order, Trade, Withdrawal, now_ms

Json = dict[str, Any]


def amount(value: Decimal) -> str:
    return f"{value:.8f}"


SPOT_RULES = {
    "amount_min": Decimal("0.00001"),
    "amount_max": Decimal("9000"),
    "cost_min": Decimal("5"),
    "cost_max": Decimal("9000000"),
    "amount_step": Decimal("0.00001"),
    "price_step": Decimal("0.01"),
}
"""Every market's rules (LOT_SIZE, PRICE_FILTER tick, NOTIONAL), named as `ListedMarket`
names them: what execution must read from `exchangeInfo` and safety must enforce."""


def symbol_info(market: Market) -> Json:
    return {
        "symbol": market.symbol_id,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": amount(SPOT_RULES["price_step"]),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": amount(SPOT_RULES["amount_min"]),
                "maxQty": amount(SPOT_RULES["amount_max"]),
                "stepSize": amount(SPOT_RULES["amount_step"]),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": amount(SPOT_RULES["cost_min"]),
                "applyMinToMarket": True,
                "maxNotional": amount(SPOT_RULES["cost_max"]),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(book: Book) -> Json:
    return {
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [symbol_info(m) for m in book.markets.values()],
    }


def ticker_24hr(market: Market) -> Json:
    price = amount(market.price)
    return {
        "symbol": market.symbol_id,
        "priceChange": "0.00000000",
        "priceChangePercent": "0.000",
        "weightedAvgPrice": price,
        "prevClosePrice": price,
        "lastPrice": price,
        "lastQty": "0.00100000",
        "bidPrice": price,
        "bidQty": "1.00000000",
        "askPrice": price,
        "askQty": "1.00000000",
        "openPrice": price,
        "highPrice": price,
        "lowPrice": price,
        "volume": "0.00000000",
        "quoteVolume": "0.00000000",
        "openTime": now_ms() - 86_400_000,
        "closeTime": now_ms(),
        "firstId": 0,
        "lastId": 0,
        "count": 0,
    }


def account(book: Book, api_key: str) -> Json:
    balances = book.accounts[api_key].balances
    locked = _locked(book, api_key)
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "updateTime": now_ms(),
        "accountType": "SPOT",
        "balances": [
            {
                "asset": asset,
                "free": amount(value - locked.get(asset, Decimal(0))),
                "locked": amount(locked.get(asset, Decimal(0))),
            }
            for asset, value in sorted(balances.items())
        ],
        "permissions": ["SPOT"],
        "uid": 1,
    }


def _locked(book: Book, api_key: str) -> dict[str, Decimal]:
    locked: dict[str, Decimal] = {}
    for order in book.orders:
        if order.account != api_key or not order.is_open or order.price is None:
            continue
        market = book.markets[order.symbol_id]
        asset, value = (
            (market.quote, order.remaining * order.price)
            if order.side == "BUY"
            else (market.base, order.remaining)
        )
        locked[asset] = locked.get(asset, Decimal(0)) + value
    return locked


def order(order: Order) -> Json:
    return {
        "symbol": order.symbol_id,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": amount(order.price or Decimal(0)),
        "origQty": amount(order.qty),
        "executedQty": amount(order.executed),
        "cummulativeQuoteQty": amount(order.quote_executed),
        "status": order.status,
        "timeInForce": "GTC",
        "type": order.type,
        "side": order.side,
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": order.time_ms,
        "updateTime": order.update_ms,
        "isWorking": True,
        "workingTime": order.time_ms,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "NONE",
    }


def new_order(placed: Order, trades: list[Trade]) -> Json:
    """The `FULL` answer to `POST /api/v3/order`."""
    answer = order(placed)
    answer["transactTime"] = placed.time_ms
    answer["fills"] = [
        {
            "price": amount(t.price),
            "qty": amount(t.qty),
            "commission": amount(t.commission),
            "commissionAsset": t.commission_asset,
            "tradeId": t.trade_id,
        }
        for t in trades
    ]
    return answer


def my_trade(trade: Trade) -> Json:
    return {
        "symbol": trade.symbol_id,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": amount(trade.price),
        "qty": amount(trade.qty),
        "quoteQty": amount(trade.price * trade.qty),
        "commission": amount(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time_ms,
        "isBuyer": trade.is_buyer,
        "isMaker": False,
        "isBestMatch": True,
    }


def coin_config(coin: str) -> Json:
    """One entry of `GET /sapi/v1/capital/config/getall` (what ccxt builds currencies from)."""
    network = {
        "network": coin,
        "coin": coin,
        "name": coin,
        "isDefault": True,
        "depositEnable": True,
        "withdrawEnable": True,
        "withdrawFee": "0",
        "withdrawMin": "0.00000001",
        "withdrawMax": "10000000",
        "withdrawIntegerMultiple": "0.00000001",
        "minConfirm": 1,
        "unLockConfirm": 1,
        "depositDesc": "",
        "withdrawDesc": "",
        "specialTips": "",
        "busy": False,
        "addressRegex": "",
        "memoRegex": "",
        "sameAddress": False,
    }
    return {
        "coin": coin,
        "name": coin,
        "depositAllEnable": True,
        "withdrawAllEnable": True,
        "free": "0",
        "locked": "0",
        "freeze": "0",
        "withdrawing": "0",
        "ipoing": "0",
        "ipoable": "0",
        "storage": "0",
        "isLegalMoney": False,
        "trading": True,
        "networkList": [network],
    }


def withdrawal(item: Withdrawal) -> Json:
    return {
        "id": item.withdrawal_id,
        "amount": amount(item.amount),
        "transactionFee": "0",
        "coin": item.coin,
        "status": 6,  # completed
        "address": item.address,
        "txId": item.tx_id,
        "applyTime": _binance_time(item.apply_ms),
        "network": item.network or item.coin,
        "transferType": 0,
        "withdrawOrderId": item.withdraw_order_id or "",
        "info": "",
        "confirmNo": 1,
        "walletType": 0,
        "txKey": "",
        "completeTime": _binance_time(item.apply_ms),
    }


def deposit(item: Deposit) -> Json:
    return {
        "id": item.deposit_id,
        "amount": amount(item.amount),
        "coin": item.coin,
        "network": item.coin,
        "status": item.status,
        "address": "sim-deposit-address",
        "addressTag": "",
        "txId": item.tx_id,
        "insertTime": item.insert_ms,
        "transferType": 0,
        "confirmTimes": "1/1",
        "unlockConfirm": 0,
        "walletType": 0,
    }


def _binance_time(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
