"""`python -m tests.support.simbinance`: the simulator as its own process (for e2e runs).

    python -m tests.support.simbinance --port 9011 --market BTC/USDT=65000 \\
        --account KEY:SECRET:USDT=10000,BTC=1

prints `{"base_url": "http://127.0.0.1:9011"}` on one line when it listens, then serves until
SIGTERM or Ctrl-C. Point execution at it with
`CRYPTOORCH_EXCHANGE_URL_OVERRIDES='{"binance": "<base_url>"}'`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from tests.support.simbinance.server import running_simbinance


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


async def serve(port: int, markets: dict[str, str], accounts: list[str]) -> None:
    async with running_simbinance(markets=markets or None, port=port) as sim:
        for account in accounts:
            api_key, secret, balances = [*account.split(":", 2), ""][:3]
            sim.add_account(api_key, secret, _pairs(balances))
        print(json.dumps({"base_url": sim.base_url}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.simbinance")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--market", action="append", default=[], help="SYMBOL=PRICE")
    parser.add_argument("--account", action="append", default=[], help="KEY:SECRET:ASSET=N,..")
    args = parser.parse_args(argv)
    markets = dict(m.split("=", 1) for m in args.market)
    asyncio.run(serve(args.port, markets, args.account))


if __name__ == "__main__":
    main(sys.argv[1:])
