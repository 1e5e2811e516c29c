"""Network venues through ccxt: users' keys, one client per key, orders and withdrawals sent
and looked up in the background, deposits, balances and listings."""
