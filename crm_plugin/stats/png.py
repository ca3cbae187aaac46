"""Just enough PNG reading (zlib and struct, no imaging library) to check a rendered chart: its size, its
pixels, and whether it is blank.

``looks_blank`` is the cheap check a render runs: a picture of one flat colour filters, under every PNG row
filter, to a handful of byte values (the colour's channels, their halves, 0 and the five filter types: at
most 13), while a chart with anti-aliased text has hundreds. ``decode`` gives exact pixels for tests.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit, no palette)
FLAT_MAX_BYTE_VALUES = 16
SAMPLE_STEP = 61  # every 61st byte of the filtered rows (prime: no stride lines up with a pixel's channels)


@dataclass(frozen=True)
class PngImage:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered, ``width * channels`` bytes each (the first ``max_rows`` of them)

    def pixels(self) -> set[bytes]:
        """The distinct pixels of the decoded rows."""
        step = self.channels
        return {row[i:i + step] for row in self.rows for i in range(0, len(row), step)}


def _chunks(data: bytes) -> tuple[bytes, bytes]:
    """(IHDR body, the IDAT stream); ValueError when this is not a PNG."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    header, idat, offset = b"", bytearray(), len(SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        offset += 12 + length
    if len(header) != 13 or not idat:
        raise ValueError("a PNG without its header or image data")
    return header, bytes(idat)


def size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels."""
    header, _ = _chunks(data)
    width, height = struct.unpack(">II", header[:8])
    return width, height


def _layout(header: bytes) -> tuple[int, int, int]:
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    return width, height, CHANNELS[colour]


def looks_blank(data: bytes) -> bool:
    """True for a picture of one flat colour (or so nearly one that it cannot be a chart)."""
    header, idat = _chunks(data)
    _layout(header)
    raw = zlib.decompress(idat)
    # A sample is enough: a subset of a flat picture's few values is as few, and a chart's text and bars
    # spread hundreds of values over every part of the picture.
    return len(set(raw[::SAMPLE_STEP])) <= FLAT_MAX_BYTE_VALUES


def decode(data: bytes, max_rows: int | None = None) -> PngImage:
    """The pixels, row by row (the first ``max_rows`` rows only, when given: a row needs the one above)."""
    header, idat = _chunks(data)
    width, height, channels = _layout(header)
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for index in range(min(height, max_rows) if max_rows is not None else height):
        start = index * (stride + 1)
        kind, line = raw[start], raw[start + 1:start + 1 + stride]
        previous = _unfilter(kind, line, previous, channels)
        rows.append(previous)
    return PngImage(width, height, channels, rows)


def _unfilter(kind: int, line: bytes, above: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    out = bytearray(line)
    if kind == 2:  # Up, what Chromium writes: each byte plus the one above
        return _add_bytes(line, above)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:
            out[i] = (out[i] + ((left + above[i]) >> 1)) & 0xFF
        elif kind == 4:
            corner = above[i - bpp] if i >= bpp else 0
            p = left + above[i] - corner
            pa, pb, pc = abs(p - left), abs(p - above[i]), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else (above[i] if pb <= pc else corner)
            out[i] = (out[i] + predictor) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")
    return bytes(out)


def _add_bytes(first: bytes, second: bytes) -> bytes:
    """Byte by byte addition modulo 256 of two equal-length strings, done as two big integers: the low seven
    bits of each byte add without reaching the next byte, the top bit is an exclusive or."""
    size = len(first)
    low, high = _masks(size)
    a, b = int.from_bytes(first, "big"), int.from_bytes(second, "big")
    return (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(size, "big")


@lru_cache(maxsize=8)
def _masks(size: int) -> tuple[int, int]:
    return int.from_bytes(b"\x7f" * size, "big"), int.from_bytes(b"\x80" * size, "big")


def encode(width: int, height: int, pixel: bytes) -> bytes:
    """A PNG of one flat colour (RGB or RGBA ``pixel``): what a blank render looks like, for tests."""
    colour = {3: 2, 4: 6}[len(pixel)]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x01" + pixel + bytes(len(pixel) * (width - 1)) for _ in range(height))  # Sub filter
    return (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
