"""gray_png(path, a): the 2-D uint8 array a (H rows of W bytes) as an
8-bit grayscale PNG file, written with zlib only: the image folders of
tests/sh/test_data.sh and tests/bench/data_startup.sh."""
import struct
import zlib


def _chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def gray_png(path, a):
    raw = b"".join(b"\0" + bytes(row) for row in a.tolist())
    ihdr = struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw))
                + _chunk(b"IEND", b""))
