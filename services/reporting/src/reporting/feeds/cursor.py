"""Feed cursors: an opaque string for a place in one trust's feed, ``(tx_id, position)``.

A feed is read in ``(tx_id, position)`` order, only below the oldest running transaction, so a
cursor is a point after which nothing can still appear out of order (see
:mod:`reporting.feeds.reader`). The string is URL-safe base64 of a version byte and two unsigned
64-bit integers; clients must treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import NamedTuple

_VERSION = 1
_FORMAT = ">BQQ"


class InvalidCursor(ValueError):
    """A cursor this service did not make."""


class Cursor(NamedTuple):
    tx_id: int
    position: int

    def encode(self) -> str:
        raw = struct.pack(_FORMAT, _VERSION, self.tx_id, self.position)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


#: Before every entry: the start of a feed.
START = Cursor(0, 0)


def decode_cursor(value: str | None) -> Cursor:
    """The cursor a string stands for; ``None`` or ``""`` mean the start of the feed."""
    if not value:
        return START
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        version, tx_id, position = struct.unpack(_FORMAT, raw)
    except (binascii.Error, struct.error, ValueError):
        raise InvalidCursor("not a cursor of this feed") from None
    cursor = Cursor(tx_id, position)
    if version != _VERSION or cursor.encode() != value:
        raise InvalidCursor("not a cursor of this feed")
    return cursor
