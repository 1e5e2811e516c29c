"""A binary COPY stream of one bytea column is read back value for value, however the
connection cuts it into chunks; a stream that is not one (other columns, a cut-off end) is
an error, never a silently shorter log."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.copy_stream import SIGNATURE, ColumnReader, CopyFormatError


def stream(values: list[bytes | None], fields: int = 1) -> bytes:
    out = [SIGNATURE, struct.pack(">ii", 0, 0)]
    for value in values:
        out.append(struct.pack(">h", fields))
        for _ in range(fields):
            if value is None:
                out.append(struct.pack(">i", -1))
            else:
                out.append(struct.pack(">i", len(value)) + value)
    out.append(struct.pack(">h", -1))
    return b"".join(out)


def read(data: bytes, cuts: list[int], batch: int = 7) -> tuple[list[bytes], ColumnReader]:
    got: list[bytes] = []
    reader = ColumnReader(got.extend, batch_rows=batch)
    start = 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        reader.feed(data[start:cut])
        start = cut
    reader.close()
    return got, reader


@given(
    st.lists(st.binary(max_size=300) | st.none(), max_size=40),
    st.lists(st.integers(0, 12_000), max_size=30),
    st.integers(1, 50),
)
def test_values_come_back_whatever_the_chunks(
    values: list[bytes | None], cuts: list[int], batch: int
) -> None:
    got, reader = read(stream(values), cuts, batch)
    assert got == [b"" if v is None else v for v in values]
    assert reader.rows == len(values)


def test_a_stream_cut_short_is_an_error() -> None:
    data = stream([b"x" * 50, b"y" * 50])
    with pytest.raises(CopyFormatError):
        read(data[:-10], [])
    with pytest.raises(CopyFormatError):
        read(data[:-2], [])


def test_two_columns_or_no_signature_are_errors() -> None:
    with pytest.raises(CopyFormatError):
        read(stream([b"a"], fields=2), [])
    with pytest.raises(CopyFormatError):
        read(b"COPY" + stream([b"a"])[4:], [])
