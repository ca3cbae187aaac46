"""Small PNG pictures for the demo data, drawn in code (no image library needed): a window in a wall for
photos, a ruled sheet for measurement sheets."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

Color = tuple[int, int, int]
PixelFn = Callable[[int, int], Color]


def _png(width: int, height: int, pixel: PixelFn) -> bytes:
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "none"
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) \
        + chunk(b"IEND", b"")


def window_photo(wall: Color, frame: Color = (245, 245, 245), width: int = 160, height: int = 120) -> bytes:
    """A two-pane window in a wall, sky behind the glass."""
    left, right, top, bottom, bar = width // 5, width * 4 // 5, height // 6, height * 5 // 6, 4
    middle = (left + right) // 2

    def pixel(x: int, y: int) -> Color:
        if not (left <= x < right and top <= y < bottom):
            return wall
        if x < left + bar or x >= right - bar or y < top + bar or y >= bottom - bar or abs(x - middle) < bar // 2 + 1:
            return frame
        shade = 170 + (y - top) * 70 // (bottom - top)  # the sky lightens towards the horizon
        return (min(255, shade - 60), min(255, shade - 10), 255)

    return _png(width, height, pixel)


def measurement_sheet(width: int = 120, height: int = 160) -> bytes:
    """A sheet of squared paper with a window outline, like a measurer's sketch."""

    def pixel(x: int, y: int) -> Color:
        if (20 <= x <= 100 and y in (30, 110)) or (x in (20, 60, 100) and 30 <= y <= 110):
            return (30, 30, 120)
        if x % 10 == 0 or y % 10 == 0:
            return (200, 215, 235)
        return (255, 255, 255)

    return _png(width, height, pixel)
