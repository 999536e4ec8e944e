"""Reading a picture file for ``mnist-edge predict``, safely: bounded bytes, bounded pixels.

The file is opened without blocking (a FIFO or device never hangs the command), read up to a
cap, and its header parsed here *before* any decoder runs, so a small file that claims a huge
picture is refused before it costs gigabytes. Only then does OpenCV decode it. Every bit depth
and alpha mode ends as the 8-bit grayscale picture an 8-bit file of the same image would give,
so the one preprocessing path (:func:`~mnist_edge.ink.preprocess.image_to_canvas`) sees
the same picture whatever the file's depth.
"""

from __future__ import annotations

import os
import stat
import struct

import numpy as np

from mnist_edge.core.errors import UserError

MAX_FILE_BYTES = 64 << 20
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; far beyond any picture of one digit
MAX_DECODED_BYTES = 320 << 20  # 40 MP of 16-bit RGBA: depth and channels bound memory too
MIN_SIDE = 2
FORMATS = "PNG, JPEG, BMP, GIF, TIFF, WebP or PNM"
_ROWS_PER_BLOCK = 1024  # alpha compositing in row blocks: float temporaries stay small


class ImageFileError(UserError):
    """A picture that cannot be read; the message says why, without the path."""


def read_image(path: str) -> np.ndarray:
    """The picture in ``path`` as grayscale uint8 [H, W]; ImageFileError (one line) if not."""
    data = _read_capped(path)
    width, height, decoded = _header_size(data)
    if width * height > MAX_PIXELS or decoded > MAX_DECODED_BYTES:
        raise ImageFileError(
            f"{width}x{height} pixels is too large for a picture of one digit "
            f"(at most {MAX_PIXELS // 1_000_000} megapixels)"
        )
    if min(width, height) == 0:  # refused here: the decoder would print its own lines first
        raise _unreadable(f"its header says {width}x{height} pixels, an empty picture")
    if min(width, height) < MIN_SIDE:
        raise ImageFileError(f"{width}x{height} pixels is too small to hold a digit")
    return _to_gray(_decode(data))


def _read_capped(path: str) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO with no writer returns at once
    except FileNotFoundError:
        raise ImageFileError("not found") from None
    except IsADirectoryError:
        raise ImageFileError("a folder, not an image file") from None
    except OSError as exc:
        raise ImageFileError(f"cannot open it ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)  # of what was opened: no race with a swapped path
        if stat.S_ISDIR(info.st_mode):
            raise ImageFileError("a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageFileError("not a regular file (a pipe, device or socket)")
        if info.st_size > MAX_FILE_BYTES:
            raise ImageFileError(_too_big(info.st_size))
        chunks, total = [], 0
        while total <= MAX_FILE_BYTES:  # at most cap + 1 bytes, even if the file grows
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise ImageFileError(f"cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if total > MAX_FILE_BYTES:
        raise ImageFileError(_too_big(total))
    if total == 0:
        raise ImageFileError("an empty file, not a readable image")
    return b"".join(chunks)


def _too_big(size: int) -> str:
    return (
        f"{size / 2**20:.0f} MB is too large for a picture of one digit "
        f"(at most {MAX_FILE_BYTES >> 20} MB)"
    )


# ----------------------------------------------------------------------------- headers


def _unreadable(why: str) -> ImageFileError:
    return ImageFileError(f"not a readable image ({why})")


def _header_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, decoded bytes estimate) from the file's own header, before decoding."""
    try:
        for magic, parse in _PARSERS:
            if data.startswith(magic):
                width, height, channels, bytes_per_sample = parse(data)
                return width, height, width * height * channels * bytes_per_sample
    except (struct.error, IndexError, ValueError):
        raise _unreadable("its header is truncated or corrupt") from None
    raise _unreadable(f"not {FORMATS}")


def _png(data: bytes) -> tuple[int, int, int, int]:
    if data[12:16] != b"IHDR":
        raise ValueError("no IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour, 4)
    return width, height, channels, 2 if depth == 16 else 1


def _jpeg(data: bytes) -> tuple[int, int, int, int]:
    i = 2
    while i + 4 <= len(data):  # every step moves forward: bounded by the file's length
        if data[i] != 0xFF:
            raise ValueError("not a marker")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width, components = struct.unpack(">HHB", data[i + 5 : i + 10])
            return width, height, components, 2 if data[i + 4] > 8 else 1
        if marker == 0xD9 or length < 2:
            break
        i += 2 + length
    raise ValueError("no frame header")


def _bmp(data: bytes) -> tuple[int, int, int, int]:
    (header,) = struct.unpack("<I", data[14:18])
    if header == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height), 4, 1  # negative height: top-down rows


def _gif(data: bytes) -> tuple[int, int, int, int]:
    width, height = struct.unpack("<HH", data[6:10])
    return width, height, 4, 1


def _tiff(data: bytes) -> tuple[int, int, int, int]:
    order = "<" if data[:2] == b"II" else ">"
    (version,) = struct.unpack(order + "H", data[2:4])
    big = version == 43  # BigTIFF: 8-byte offsets and counts
    if big:
        (offset,) = struct.unpack(order + "Q", data[8:16])
        (count,) = struct.unpack(order + "Q", data[offset : offset + 8])
        entry, start, value_at = 20, offset + 8, 12
    else:
        (offset,) = struct.unpack(order + "I", data[4:8])
        (count,) = struct.unpack(order + "H", data[offset : offset + 2])
        entry, start, value_at = 12, offset + 2, 8
    tags: dict[int, int] = {}
    for n in range(min(count, 4096)):
        at = start + n * entry
        tag, kind = struct.unpack(order + "HH", data[at : at + 4])
        if kind == 3:  # SHORT
            (value,) = struct.unpack(order + "H", data[at + value_at : at + value_at + 2])
        elif kind in (4, 16):  # LONG, LONG8
            size = "Q" if kind == 16 else "I"
            (value,) = struct.unpack(
                order + size, data[at + value_at : at + value_at + struct.calcsize(size)]
            )
        else:
            continue
        tags[tag] = value  # BitsPerSample with several values: the first is enough here
    if 256 not in tags or 257 not in tags:
        raise ValueError("no image size")
    bits = tags.get(258, 8)
    return tags[256], tags[257], max(1, tags.get(277, 1)), max(1, (bits + 7) // 8)


def _webp(data: bytes) -> tuple[int, int, int, int]:
    if data[8:12] != b"WEBP":
        raise ValueError("not WebP")
    kind = data[12:16]
    if kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("no VP8 start code")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF, 4, 1
    if kind == b"VP8L":
        if data[20] != 0x2F:
            raise ValueError("no VP8L signature")
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4, 1
    if kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height, 4, 1
    raise ValueError("unknown WebP chunk")


def _pnm(data: bytes) -> tuple[int, int, int, int]:
    head = data[:65536]  # headers are a few bytes; comments cannot make the scan unbounded
    if head[1:2] == b"7":  # PAM: "WIDTH n", "HEIGHT n", ... "ENDHDR"
        fields: dict[bytes, int] = {}
        for line in head.split(b"\n")[1:]:
            parts = line.split()
            if parts[:1] == [b"ENDHDR"]:
                break
            if len(parts) == 2 and parts[0] in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"):
                # ASCII digits only: int() would also take "-5", "+5" and "4_0"
                if not parts[1].isdigit():
                    raise ValueError("not a number")
                fields[parts[0]] = int(parts[1])
        else:
            raise ValueError("no ENDHDR")
        if b"WIDTH" not in fields or b"HEIGHT" not in fields:
            raise ValueError("no size")
        depth = 2 if fields.get(b"MAXVAL", 255) > 255 else 1
        return fields[b"WIDTH"], fields[b"HEIGHT"], fields.get(b"DEPTH", 1), depth
    if head[2:3] not in (b" ", b"\t", b"\n", b"\r", b"#"):
        raise ValueError("not PNM")
    tokens: list[int] = []
    i = 2
    want = 2 if head[1:2] in (b"1", b"4") else 3  # bitmaps have no maxval
    while len(tokens) < want and i < len(head):
        c = head[i : i + 1]
        if c == b"#":
            end = head.find(b"\n", i)
            i = len(head) if end < 0 else end + 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < len(head) and head[j : j + 1].isdigit():
                j += 1
            if j == i:
                raise ValueError("not a number")
            tokens.append(int(head[i:j]))
            i = j
    if len(tokens) < 2:
        raise ValueError("no size")
    channels = 3 if head[1:2] in (b"3", b"6") else 1
    depth = 2 if want == 3 and len(tokens) == 3 and tokens[2] > 255 else 1
    return tokens[0], tokens[1], channels, depth


_PARSERS = (
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"BM", _bmp),
    (b"GIF87a", _gif),
    (b"GIF89a", _gif),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"II+\x00", _tiff),
    (b"MM\x00+", _tiff),
    (b"RIFF", _webp),
    *((b"P" + str(n).encode(), _pnm) for n in range(1, 8)),
)


# ----------------------------------------------------------------------------- pixels


def _decode(data: bytes) -> np.ndarray:
    import cv2

    # A broken file makes OpenCV log its own lines ("[ERROR:0@0.2] ... Assertion failed")
    # before ours; the one line here says what is wrong, so its logging is off while decoding.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # OpenCV's own limits, or a decoder that gives up mid-file
        raise _unreadable("the decoder refused it") from None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if image is None or image.size == 0:
        raise _unreadable("the decoder could not read it")
    if min(image.shape[:2]) < MIN_SIDE:
        raise ImageFileError(
            f"{image.shape[1]}x{image.shape[0]} pixels is too small to hold a digit"
        )
    return image


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Samples of any depth -> the 8-bit samples an 8-bit file of the same picture holds."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.uint16:
        return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)  # 65535 -> 255
    v = values.astype(np.float64 if values.dtype.itemsize > 4 else np.float32, copy=False)
    finite = np.isfinite(v)
    if not finite.any():
        raise _unreadable("it holds no finite pixel values")
    lo, hi = float(v[finite].min()), float(v[finite].max())
    # +-inf are the ends of the range; NaN is missing data, taken as the paper: the border's
    # median, as image_to_canvas judges the background (no numpy warnings on either).
    border = np.concatenate([v[0], v[-1], v[:, 0], v[:, -1]]).ravel()
    border = border[np.isfinite(border)]
    paper = float(np.median(border)) if border.size else float(np.median(v[finite]))
    v = np.where(finite, v, np.where(np.isposinf(v), hi, np.where(np.isneginf(v), lo, paper)))
    if values.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:  # the float convention: [0, 1]
        return np.round(v * 255.0).astype(np.uint8)
    if hi <= lo:  # one flat value: nothing to tell ink from paper
        return np.zeros(v.shape, np.uint8)
    # Signed or out-of-convention ranges: stretched, as OpenCV's NORM_MINMAX does.
    return np.round((v - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale uint8: transparent background as white paper, colour by luminance."""
    import cv2

    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        return _to_uint8(image.reshape(image.shape[:2]))
    if channels == 2:  # gray + alpha
        colour, alpha = image[:, :, :1], image[:, :, 1:2]
    elif channels >= 4:
        colour, alpha = image[:, :, :3], image[:, :, 3:4]
    else:
        colour, alpha = image, None
    colour = _to_uint8(colour)
    if alpha is not None:
        alpha8 = _to_uint8(alpha) if alpha.dtype.kind != "f" else _alpha_float(alpha)
        colour = _over_white(colour, alpha8)
    if colour.shape[2] == 1:
        return np.ascontiguousarray(colour[:, :, 0])
    return cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_BGR2GRAY)


def _alpha_float(alpha: np.ndarray) -> np.ndarray:
    """Float alpha is coverage in [0, 1] by definition; NaN is taken as opaque."""
    a = np.where(np.isfinite(alpha), alpha, np.where(np.isneginf(alpha), 0.0, 1.0))
    return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def _over_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """8-bit colour over white paper by 8-bit alpha: exactly the arithmetic predict has always
    used for 8-bit RGBA files, in row blocks so a large picture's float copy stays small."""
    out = np.empty(colour.shape, np.uint8)
    for top in range(0, colour.shape[0], _ROWS_PER_BLOCK):
        rows = slice(top, top + _ROWS_PER_BLOCK)
        a = alpha[rows].astype(np.float32) / 255.0
        out[rows] = (colour[rows] * a + 255.0 * (1 - a)).astype(np.uint8)
    return out
