"""Turning uploaded bytes into pipeline images, and results back into PNG, JPEG or WebP bytes.

The type of an upload is judged from its bytes: names and declared content types lie.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
import threading
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, ImageOps

from .errors import InvalidImage

log = logging.getLogger("tryon.images")

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp")

# Leading bytes of the formats people actually upload, so a refusal can name what was sent.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"%PDF", 0, "application/pdf"),
    (b"<svg", 0, "image/svg+xml"),
    (b"ftypavif", 4, "image/avif"),
    (b"ftypheic", 4, "image/heic"),
    (b"PK\x03\x04", 0, "application/zip"),
)

_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr"})
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Checks and decodes running at once in a process (the API's and the job workers' together), so
# that a burst of uploads holds at most this many times ``max_decode_bytes``; the rest wait.
CONCURRENT_DECODES = 4
_DECODE_SLOTS = threading.BoundedSemaphore(CONCURRENT_DECODES)
# Bytes per pixel as Pillow stores a mode: every multi-band 8-bit mode takes 4.
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2, "I": 4, "F": 4}
# Pillow's WEBP decoder holds the frame four times at 4 bytes per pixel (libwebp's buffer, the
# animation decoder's two canvases, the image): 16 bytes per pixel, measured, lossy or lossless.
_WEBP_BYTES_PER_PIXEL = 16
_PREMULTIPLIED_BYTES = 4  # Pillow reduces LA and RGBA through a premultiplied copy
# After reducing: an RGB(A) copy, the composite over white, the RGB array (4 + 4 + 3 bytes per pixel).
_FINISHING_BYTES = 11
_JPEG_MARKER = re.compile(rb"\xff+([^\x00\xff])")  # FF 00 in scan data is a stuffed FF byte
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and the restart markers


@dataclass(frozen=True)
class ImageLimits:
    """What the service accepts (every refusal message quotes the limit it hit), and the working
    size: ``decode_image`` scales larger photos down to ``working_side`` pixels on their longest side.

    ``max_decode_bytes`` bounds the memory a decode takes, estimated from the header alone
    (``decode_cost``); ``max_jpeg_scans`` bounds a progressive JPEG's work, which grows with its
    scans (libjpeg reads every one, whatever the scale), not with its size in bytes.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_side: int = 12_000
    min_side: int = 64
    working_side: int = 2048
    max_decode_bytes: int = 256 * 1024 * 1024
    max_jpeg_scans: int = 100


def sniff_image_type(data: bytes) -> str | None:
    """The media type that ``data`` starts with, or None when it is none we know."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, offset, media_type in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return media_type
    return None


def check_upload_size(field: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise InvalidImage(f"{field} is {_megabytes(size)}; the limit is {_megabytes(max_bytes)} per file.")


def check_upload(field: str, data: bytes, limits: ImageLimits) -> None:
    """Refuse, before decoding anything, an upload that is empty, too large or of the wrong type."""
    if not data:
        raise InvalidImage(f"{field} is empty: send a JPEG, PNG or WEBP photo.")
    check_upload_size(field, len(data), limits.max_bytes)
    media_type = sniff_image_type(data)
    if media_type is None:
        raise InvalidImage(f"{field} is not an image: its bytes are not JPEG, PNG or WEBP.")
    if media_type not in ACCEPTED_TYPES:
        raise InvalidImage(f"Unsupported image type: {media_type}")


def validate_image(field: str, data: bytes, limits: ImageLimits) -> None:
    """Every check ``decode_image`` makes, at a fraction of its cost, for the upload path.

    A PNG is verified (every chunk's CRC, which catches truncation and corruption) and its pixel
    data inflated and counted, not decoded into an image. A JPEG is decoded at 1/8 scale; WEBP
    decodes fast anyway. What any of it costs is bounded from the header first (``decode_cost``).
    """
    with _DECODE_SLOTS, _opened(field, data, limits) as image:
        if image.format == "PNG":
            image.verify()
            return
        if image.format == "JPEG":
            # libjpeg still reads every scan (truncation and corruption still fail) but skips
            # most of the inverse DCT and colour work: about twice as fast for a 1024x1024 photo.
            image.draft("RGB", (image.width // 8, image.height // 8))
        image.load()


def decode_image(field: str, data: bytes, limits: ImageLimits) -> np.ndarray:
    """Validate and decode an upload into an ``HxWx3`` uint8 RGB array, upright as it was shot, at
    most ``limits.working_side`` pixels on its longest side (scaled down, aspect ratio kept).

    EXIF orientation is applied; grayscale, palette, CMYK and alpha images are converted (alpha is
    composited over white, as product shots are). Raises ``InvalidImage`` with a readable reason.
    A large JPEG is decoded reduced (libjpeg scales by 1/2, 1/4 or 1/8 while decoding) to the
    smallest size still at least the working size, so its time and memory follow the working
    size rather than the upload's; other formats are decoded whole, converted to a mode Pillow
    can reduce (palette, bilevel and 16-bit images), then box-reduced at once, so the conversions
    that follow copy a small image. What that costs is bounded before decoding (``decode_cost``).
    """
    with _DECODE_SLOTS:
        with _opened(field, data, limits) as image:
            if image.format == "JPEG":
                image.draft("RGB", _fitted_size(image.size, limits.working_side))
            image.load()
            image = _reduced(_reducible(image), limits.working_side)
        return _fit_within(_to_rgb(ImageOps.exif_transpose(image)), limits.working_side)


@contextmanager
def _opened(field: str, data: bytes, limits: ImageLimits) -> Iterator[Image.Image]:
    """The upload opened by Pillow once its size, type and dimensions pass; decoding errors inside
    the block become ``InvalidImage``."""
    check_upload(field, data, limits)
    media_type = sniff_image_type(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[media_type]])
            _check_dimensions(field, image.size, limits)
            _check_decode_cost(field, image, data, limits)
            if image.format == "PNG":  # Pillow decodes a short one without a word: black rows
                _check_png_pixel_data(field, data)
            yield image
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage(
            f"{field} declares more pixels than the limit of {limits.max_pixels / 1e6:g} megapixels."
        ) from None
    except Exception as error:  # Pillow raises many types for damaged files
        # Pillow's own words name its internals (e.g. "<_io.BytesIO object at 0x...>"): log them.
        log.info("%s could not be decoded as %s: %s", field, media_type, error)
        raise InvalidImage(
            f"{field} could not be decoded as {media_type}: the file is truncated or corrupt."
        ) from None


def encode_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    """``HxWx3`` uint8 RGB -> PNG bytes. Level 1 is ~6x faster than Pillow's default and ~10% larger."""
    ok, encoded = cv2.imencode(
        ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, compress_level]
    )
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


@dataclass(frozen=True)
class OutputFormat:
    """How a result picture is encoded: ``name`` png, jpeg or webp; ``quality`` 1-100 for the lossy
    ones (None for png); ``png_compress_level`` the zlib level of a PNG (0-9)."""

    name: str = "png"
    quality: int | None = None
    png_compress_level: int = 1

    @property
    def media_type(self) -> str:
        return OUTPUT_FORMATS[self.name][0]

    @property
    def suffix(self) -> str:
        """The file name suffix of the format (S3 keys, the CLI's output file)."""
        return OUTPUT_FORMATS[self.name][1]


# name -> (media type, file suffix)
OUTPUT_FORMATS: dict[str, tuple[str, str]] = {
    "png": ("image/png", ".png"),
    "jpeg": ("image/jpeg", ".jpg"),
    "webp": ("image/webp", ".webp"),
}
DEFAULT_OUTPUT_QUALITY = 90
# libwebp's effort 0-6: 2 encodes in about 0.4x the time of OpenCV's fixed 4, for 0.3% more bytes.
WEBP_METHOD = 2


def encode_picture(image: np.ndarray, output: OutputFormat) -> bytes:
    """``HxWx3`` uint8 RGB -> the bytes of ``output``'s format (lossy ones at its quality, default 90)."""
    quality = output.quality if output.quality is not None else DEFAULT_OUTPUT_QUALITY
    if output.name == "png":
        return encode_png(image, output.png_compress_level)
    if output.name == "webp":
        encoded = io.BytesIO()
        Image.fromarray(image).save(encoded, format="WEBP", quality=quality, method=WEBP_METHOD)
        return encoded.getvalue()
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return jpeg.tobytes()


def _check_dimensions(field: str, size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise InvalidImage(
            f"{field} is {width}x{height} pixels; the limit is {limits.max_pixels / 1e6:g} megapixels "
            f"and {limits.max_side} pixels per side."
        )
    if min(width, height) < limits.min_side:
        raise InvalidImage(
            f"{field} is {width}x{height} pixels; each side must be at least {limits.min_side} pixels."
        )
    working = _fitted_size(size, limits.working_side)
    if min(working) < limits.min_side:
        raise InvalidImage(
            f"{field} is {width} by {height} pixels, too thin: scaled to the working size of "
            f"{limits.working_side} pixels it would be {min(working)} pixels across, and each side "
            f"must be at least {limits.min_side} (the longer side may be at most "
            f"{limits.working_side // limits.min_side} times the shorter)."
        )


def _check_decode_cost(field: str, image: Image.Image, data: bytes, limits: ImageLimits) -> None:
    """Refuse, from the header alone, an upload whose decode would take more memory or (for a
    JPEG) more scans than the limits allow."""
    if image.format == "JPEG":
        scans = count_jpeg_scans(data, stop_after=limits.max_jpeg_scans)
        if scans > limits.max_jpeg_scans:
            raise InvalidImage(
                f"{field} is a JPEG of more than {limits.max_jpeg_scans} scans, which would take too "
                "long to decode (a progressive photo has about 10): save it again as an ordinary JPEG."
            )
        cost = decode_cost(image, limits.working_side, jpeg_scans=scans)
    else:
        cost = decode_cost(image, limits.working_side)
    if cost > limits.max_decode_bytes:
        width, height = image.size
        raise InvalidImage(
            f"{field} is a {image.format} of {width} by {height} pixels (mode {image.mode}), which would "
            f"take {_megabytes(cost)} of memory to decode; the limit is {_megabytes(limits.max_decode_bytes)}: "
            "send a smaller image, or a JPEG."
        )


def decode_cost(image: Image.Image, working_side: int, jpeg_scans: int = 1) -> int:
    """The most bytes ``decode_image`` holds at once to decode ``image`` (opened, not loaded),
    from its header, in the larger of its two phases:

    - decoding and reducing: the decoder's own (a WEBP's copies; a progressive or multi-scan
      JPEG's whole-image DCT coefficients, 2 bytes each), the pixels as Pillow stores them (a
      JPEG's after its reduced decode), the mode conversion made before reducing, the
      premultiplied copy an alpha image is reduced through, and the reduced image;
    - finishing at the reduced size (copies, the composite over white, the array), beside the
      decoded image itself (and a WEBP's decoder) when there was nothing to reduce.
    """
    width, height = image.size
    if image.format == "JPEG":
        width, height = _jpeg_draft_size(image.size, _fitted_size(image.size, working_side))
        decoder = _jpeg_coefficient_bytes(image) if jpeg_scans > 1 else 0
    elif image.format == "WEBP":
        decoder = image.width * image.height * (_WEBP_BYTES_PER_PIXEL - _stored_bytes(image.mode))
    else:
        decoder = 0
    converted = _reducible_mode(image)
    factor = max(max(width, height) // working_side, 1)
    reduced_pixels = (width // factor) * (height // factor)
    decoded = width * height * _stored_bytes(image.mode)
    reducing = (
        decoder
        + decoded
        + width * height * (_stored_bytes(converted) if converted != image.mode else 0)
        + width * height * (_PREMULTIPLIED_BYTES if factor > 1 and converted in ("LA", "RGBA") else 0)
        + reduced_pixels * _stored_bytes(converted)
    )
    kept = 0 if factor > 1 else decoded + (decoder if image.format == "WEBP" else 0)
    return max(reducing, kept + reduced_pixels * _FINISHING_BYTES)


def count_jpeg_scans(data: bytes, stop_after: int) -> int:
    """The start-of-scan markers of JPEG ``data``, counted by walking its segments (each one's
    length, and the entropy-coded data after a scan's header up to the next marker) without
    decoding; counting stops past ``stop_after``."""
    scans, position = 0, 2  # after the start-of-image marker
    while scans <= stop_after and (match := _JPEG_MARKER.search(data, position)):
        marker, position = match.group(1)[0], match.end()
        if marker == _JPEG_EOI:
            break
        if marker in _JPEG_NO_LENGTH:
            continue
        scans += marker == _JPEG_SOS
        # Skip the segment (a scan's header only: its coded data is searched for the next marker).
        position += int.from_bytes(data[position : position + 2], "big")
    return scans


def _check_png_pixel_data(field: str, data: bytes) -> None:
    """Refuse a PNG whose chunks are sound (``verify`` checked their CRCs) but whose compressed
    pixel data is short: it inflates to fewer bytes than its header's size needs. Inflated a
    megabyte at a time and counted, never held."""
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color_type, 4)
    needed = _png_raw_bytes(width, height, bit_depth * channels, interlace == 1)
    inflater, inflated, position = zlib.decompressobj(), 0, 8
    try:
        while position + 8 <= len(data) and inflated < needed:
            length, kind = struct.unpack(">I4s", data[position : position + 8])
            if kind == b"IDAT":
                pending = data[position + 8 : position + 8 + length]
                while pending and inflated < needed:
                    inflated += len(inflater.decompress(pending, 2**20))
                    pending = inflater.unconsumed_tail
            position += 12 + length
    except zlib.error:
        inflated = -1
    if inflated < needed:
        raise InvalidImage(
            f"{field} could not be decoded as image/png: its pixel data is truncated or corrupt "
            f"(it holds fewer rows than its {width} by {height} pixels)."
        )


def _png_raw_bytes(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes of a PNG's filtered pixel rows (one filter byte per row), its seven Adam7 passes if
    ``interlaced``."""
    passes = (
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        if interlaced
        else [(0, 0, 1, 1)]
    )
    total = 0
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            total += rows * (1 + -(-columns * bits_per_pixel // 8))
    return total


def _stored_bytes(mode: str) -> int:
    return _STORED_BYTES.get(mode, 4)


def _jpeg_draft_size(size: tuple[int, int], requested: tuple[int, int]) -> tuple[int, int]:
    """The size Pillow's ``draft`` decodes a JPEG of ``size`` at for ``requested``: scaled by
    1/1, 1/2, 1/4 or 1/8, the smallest still at least ``requested``."""
    scale = min(size[0] // requested[0], size[1] // requested[1])
    scale = next(factor for factor in (8, 4, 2, 1) if scale >= factor)
    return -(-size[0] // scale), -(-size[1] // scale)


def _jpeg_coefficient_bytes(image: Image.Image) -> int:
    """What libjpeg holds to decode a multi-scan JPEG: every component's 8x8 blocks of 2-byte
    coefficients, over the whole image (its sampling factors from the frame header)."""
    width, height = image.size
    sampling = [(h, v) for _, h, v, _ in image.layer] or [(1, 1)]
    h_max, v_max = max(h for h, _ in sampling), max(v for _, v in sampling)
    return sum(
        math.ceil(math.ceil(width * h / h_max) / 8) * math.ceil(math.ceil(height * v / v_max) / 8) * 64 * 2
        for h, v in sampling
    )


def _reduced(image: Image.Image, longest_side: int) -> Image.Image:
    """``image`` (of a mode in ``_REDUCIBLE_MODES``) box-averaged by the largest whole factor that
    keeps its longest side at least ``longest_side``."""
    factor = max(image.size) // longest_side
    if factor < 2:
        return image
    return image.reduce(factor)


def _reducible(image: Image.Image) -> Image.Image:
    """``image`` in a mode Pillow can reduce, with the same pixels (averaging palette indices is
    meaningless; Pillow cannot reduce bilevel or 16-bit images)."""
    mode = _reducible_mode(image)
    return image if mode == image.mode else image.convert(mode)


def _reducible_mode(image: Image.Image) -> str:
    if image.mode in _REDUCIBLE_MODES:
        return image.mode
    if image.mode == "1":
        return "L"
    if image.mode.startswith("I;16"):
        return "I"
    return "RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB"


def _fitted_size(size: tuple[int, int], longest_side: int) -> tuple[int, int]:
    """``size`` (width, height) scaled down so neither side exceeds ``longest_side``; never up."""
    scale = min(1.0, longest_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _fit_within(image: np.ndarray, longest_side: int) -> np.ndarray:
    """``HxWx3`` uint8 scaled down (area averaging) to at most ``longest_side`` on its longest side."""
    height, width = image.shape[:2]
    fitted = _fitted_size((width, height), longest_side)
    if fitted == (width, height):
        return image
    return cv2.resize(image, fitted, interpolation=cv2.INTER_AREA)


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float grayscale PNG
        wide = np.asarray(image, np.float32)
        scale = 255.0 / 65535.0 if wide.max() > 255 else 1.0
        image = Image.fromarray(np.clip(wide * scale, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"

