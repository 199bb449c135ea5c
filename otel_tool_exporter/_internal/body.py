"""Reading a request body under a byte cap that also holds *after* decompression.

A gzip bomb (a few KiB that inflate to gigabytes) must cost nothing: the decompressor is asked
for at most ``cap + 1`` bytes at a time, so the moment the inflated size passes the cap we stop,
having allocated little more than the cap. The compressed bytes count against the same cap.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

__all__ = ["BodyTooLarge", "BoundedInflater", "MalformedBody", "read_capped"]

# wbits for zlib.decompressobj: gzip container only, or zlib container (HTTP "deflate")
GZIP = 16 + zlib.MAX_WBITS
DEFLATE = zlib.MAX_WBITS
_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body, compressed or inflated, exceeds the cap (HTTP 413)."""


class MalformedBody(Exception):
    """The compressed stream is corrupt or truncated (HTTP 400)."""


class BoundedInflater:
    """Incremental decompression that never produces more than ``cap`` bytes in total.

    Concatenated gzip members are one valid gzip stream (RFC 1952 §2.2), so a member that ends
    with input left over starts the next member.
    """

    def __init__(self, wbits: int, cap: int) -> None:
        self.wbits = wbits
        self.cap = cap
        self._obj = zlib.decompressobj(wbits)
        self._parts: list[bytes] = []
        self._size = 0
        self._started = False  # saw input for the current member
        self._fed = False

    def feed(self, data: bytes) -> None:
        if data:
            self._fed = True
        while data:
            self._started = True
            try:
                out = self._obj.decompress(data, self.cap - self._size + 1)
            except zlib.error as exc:
                raise MalformedBody(f"corrupt compressed body: {exc}") from None
            self._take(out)
            data = self._obj.unconsumed_tail
            if self._obj.eof:
                rest = self._obj.unused_data
                if rest and self.wbits == GZIP:
                    self._obj = zlib.decompressobj(self.wbits)
                    self._started = False
                    data = rest
                elif rest.strip(b"\x00"):
                    raise MalformedBody("unexpected bytes after the end of the compressed body")
                else:
                    return

    def _take(self, out: bytes) -> None:
        if out:
            self._size += len(out)
            if self._size > self.cap:
                raise BodyTooLarge(f"body inflates to more than {self.cap} bytes")
            self._parts.append(out)

    def finish(self) -> bytes:
        """The inflated body; raises when the stream stopped before its end (truncated)."""
        if not self._fed:
            raise MalformedBody("empty compressed body")
        if self._started and not self._obj.eof:
            try:
                self._take(self._obj.flush(self.cap - self._size + 1))
            except zlib.error as exc:
                raise MalformedBody(f"corrupt compressed body: {exc}") from None
            if not self._obj.eof:
                raise MalformedBody("truncated compressed body")
        return b"".join(self._parts)


async def read_capped(chunks: AsyncIterator[bytes], cap: int, wbits: int | None) -> bytes:
    """Collect ``chunks`` (the raw body), inflating when ``wbits`` is set; at most ``cap`` bytes each way."""
    received = 0
    if wbits is None:
        parts: list[bytes] = []
        async for chunk in chunks:
            received += len(chunk)
            if received > cap:
                raise BodyTooLarge(f"body larger than {cap} bytes")
            parts.append(chunk)
        return b"".join(parts)
    inflater = BoundedInflater(wbits, cap)
    async for chunk in chunks:
        received += len(chunk)
        if received > cap:
            raise BodyTooLarge(f"compressed body larger than {cap} bytes")
        inflater.feed(chunk)
    return inflater.finish()
