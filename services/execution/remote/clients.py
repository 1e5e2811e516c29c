"""One open venue client per validated key, opened from its sealed secret on first use.

The plaintext credentials live only inside the client object (ccxt needs them to sign); they
are never stored, logged or put in a message. Every client opened here is closed: when its key
is found invalid or its check is inconclusive (`forget`), and the rest when execution stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from services.execution.domain.errors import VenueRejected
from services.execution.remote.keys_store import KeyStore, StoredKey
from services.execution.venues.base import RemoteVenue
from shared.sealed import SealBroken, unseal

log = logging.getLogger(__name__)
VenueOpener = Callable[[str, dict[str, str]], RemoteVenue]
"""(exchange id, credentials) → a client; `CcxtVenue` in production, a fake in unit tests."""


class RemoteClients:
    def __init__(self, pool: asyncpg.Pool, opener: VenueOpener, seal_key: str) -> None:
        self._pool = pool
        self._opener = opener
        self._seal_key = seal_key
        self._open: dict[str, RemoteVenue] = {}

    def for_key(self, key: StoredKey) -> RemoteVenue:
        """The client of this key (opened once). `VenueRejected` when it cannot be opened."""
        client = self._open.get(key.key_id)
        if client is None:
            try:
                client = self._opener(key.exchange, self._credentials(key))
            except ValueError as exc:  # e.g. an exchange ccxt does not know
                raise VenueRejected(str(exc)) from None
            self._open[key.key_id] = client
        return client

    async def for_account(self, account_id: str, exchange: str) -> RemoteVenue:
        """The client of the account's newest validated key for `exchange`."""
        async with self._pool.acquire() as conn:
            key = await KeyStore(conn).valid_key(account_id, exchange)
        if key is None:
            raise VenueRejected(f"no validated {exchange} key for this account")
        return self.for_key(key)

    async def forget(self, key: StoredKey) -> None:
        """Close the key's client (a key found invalid, or whose check was inconclusive)."""
        client = self._open.pop(key.key_id, None)
        if client is not None:
            await _close(client)

    async def close(self) -> None:
        """Close every open client, all at once (ccxt's `close` waits a moment each: one after
        the other, many keys would outlast the time a stopping service is given)."""
        clients, self._open = list(self._open.values()), {}
        await asyncio.gather(*(_close(client) for client in clients))

    def _credentials(self, key: StoredKey) -> dict[str, str]:
        if not self._seal_key:
            raise VenueRejected("execution has no CRYPTOORCH_EXCHANGE_SEAL_KEY to open keys with")
        try:
            return unseal(key.sealed_secret, self._seal_key)
        except SealBroken:
            raise VenueRejected("the sealed key cannot be opened with this seal key") from None
        except Exception as exc:
            raise VenueRejected(f"the key cannot be opened: {type(exc).__name__}") from None


async def _close(client: RemoteVenue) -> None:
    try:
        await client.close()
    except Exception:  # closing is best effort: never mask why we stop or what was checked
        log.exception("closing a venue client failed")
