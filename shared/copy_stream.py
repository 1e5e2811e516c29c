"""Stream one bytea column out of PostgreSQL with `COPY ... TO STDOUT (FORMAT binary)`.

A server-side cursor answers one FETCH at a time and builds a record object per row; COPY
streams the rows as they are produced, and the binary format carries a bytea as its bytes
(the text format would send it hex-encoded, twice the size). `copy_column` parses the stream
into plain `bytes` values and hands them over `BATCH_ROWS` at a time, as they arrive: the
caller works on one batch while PostgreSQL fills the socket with the next.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from shared.db import Connection

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = struct.Struct(">11sii")
_ROW = struct.Struct(">hi")
_END = struct.Struct(">h")
BATCH_ROWS = 20_000
"""Rows handed over at a time. Not every chunk: while the sink works, the server waits for the
socket to drain, and on a busy machine each wake-up it then needs costs more than the rows."""
"""A row: its field count (-1 ends the stream), then the first field's length (-1: NULL)."""


class CopyFormatError(ValueError):
    """The COPY stream is not one bytea column in PostgreSQL's binary format."""


class ColumnReader:
    """Parses a binary COPY stream of one column, fed in chunks of any size."""

    def __init__(self, sink: Callable[[list[bytes]], object], batch_rows: int = BATCH_ROWS) -> None:
        self.sink = sink
        self.batch_rows = batch_rows
        self.rows = 0
        self._batch: list[bytes] = []
        self.ended = False
        self._pending = b""
        self._header = True

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk if self._pending else chunk
        position, size = 0, len(data)
        if self._header:
            if size < _HEADER.size:
                self._pending = data
                return
            signature, _, extension = _HEADER.unpack_from(data)
            if signature != SIGNATURE:
                raise CopyFormatError("not a binary COPY stream")
            position = _HEADER.size + extension
            self._header = False
        values = self._batch
        keep, row_at = values.append, _ROW.unpack_from
        while position + 6 <= size:
            fields, length = row_at(data, position)
            if fields != 1:
                break
            end = position + 6 + max(length, 0)
            if end > size:
                break
            keep(data[position + 6 : end] if length >= 0 else b"")
            position = end
        else:
            fields = _END.unpack_from(data, position)[0] if position + 2 <= size else 1
        if fields == -1:
            self.ended, position = True, position + 2
        elif fields != 1:
            raise CopyFormatError(f"a row of {fields} fields, not 1")
        self._pending = data[position:]
        if len(values) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        values, self._batch = self._batch, []
        if values:
            self.rows += len(values)
            self.sink(values)

    def close(self) -> None:
        if not self.ended or self._pending:
            raise CopyFormatError("the COPY stream ended in the middle of a row")
        self._flush()


async def copy_column(
    conn: Connection, query: str, sink: Callable[[list[bytes]], object], *args: object
) -> int:
    """Run `query` (one bytea column; `$n` placeholders bound to `args`) through binary COPY,
    calling `sink` with the values of each chunk as it arrives. Returns the number of rows."""
    reader = ColumnReader(sink)

    async def feed(chunk: bytes) -> None:
        reader.feed(chunk)

    await conn.copy_from_query(query, *args, output=feed, format="binary")
    reader.close()
    return reader.rows
