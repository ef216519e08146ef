"""Upload validation and decoding: every refusal is an InvalidImage with a readable reason."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.factories import image_bytes, reads_like_a_sentence, undecodable_uploads
from tests.hostile_images import HOSTILE, hostile_bytes, progressive_scan_bomb
from tryon import images
from tryon.errors import InvalidImage
from tryon.images import (
    ImageLimits,
    count_jpeg_scans,
    decode_cost,
    decode_image,
    encode_png,
    sniff_image_type,
    validate_image,
)

LIMITS = ImageLimits(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000, max_side=4000, min_side=16)


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif"),
     ("BMP", "image/bmp"), ("TIFF", "image/tiff")],
)
def test_type_is_judged_from_the_bytes(fmt: str, media_type: str) -> None:
    assert sniff_image_type(image_bytes(fmt)) == media_type


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_decode_to_rgb(fmt: str) -> None:
    decoded = decode_image("person_image", image_bytes(fmt, size=(96, 128)), LIMITS)
    assert decoded.shape == (128, 96, 3) and decoded.dtype == np.uint8


def test_gif_is_refused_with_the_documented_message() -> None:
    with pytest.raises(InvalidImage, match=r"^Unsupported image type: image/gif$"):
        decode_image("person_image", image_bytes("GIF"), LIMITS)


def test_a_gif_named_jpg_is_still_a_gif() -> None:
    with pytest.raises(InvalidImage, match="image/gif"):
        decode_image("clothing_image", image_bytes("GIF"), LIMITS)


def test_empty_file_names_the_field() -> None:
    with pytest.raises(InvalidImage, match="clothing_image is empty"):
        decode_image("clothing_image", b"", LIMITS)


def test_text_is_not_an_image() -> None:
    with pytest.raises(InvalidImage, match="person_image is not an image"):
        decode_image("person_image", b"hello, I am a text file" * 10, LIMITS)


def test_oversized_file_names_field_and_limit() -> None:
    data = image_bytes("PNG") + b"\0" * (3 * 1024 * 1024)
    with pytest.raises(InvalidImage, match=r"person_image is 3\.\d MB; the limit is 2\.0 MB"):
        decode_image("person_image", data, LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = image_bytes(fmt, size=(400, 300))
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        decode_image("person_image", data[: len(data) // 2], LIMITS)


@pytest.mark.parametrize("check", [decode_image, validate_image])
@pytest.mark.parametrize("case", list(undecodable_uploads()))
def test_undecodable_upload_is_refused_in_words_not_internals(check, case: str) -> None:
    with pytest.raises(InvalidImage) as refusal:
        check("person_image", undecodable_uploads()[case], LIMITS)
    detail = str(refusal.value)
    assert detail.startswith("person_image ") and detail.endswith("."), detail
    assert reads_like_a_sentence(detail), detail


def test_too_many_pixels_is_refused_before_decoding() -> None:
    # A PNG header declaring 30000x30000 pixels: a decompression bomb must not be decoded.
    data = _png_with_declared_size(30_000, 30_000)
    with pytest.raises(InvalidImage, match=r"^person_image .*the limit .*4 megapixels"):
        decode_image("person_image", data, LIMITS)


def test_absurd_aspect_is_refused() -> None:
    with pytest.raises(InvalidImage, match=r"5000x20 pixels"):
        decode_image("person_image", _png_with_declared_size(5000, 20), LIMITS)


def test_tiny_image_is_refused() -> None:
    with pytest.raises(InvalidImage, match="at least 16 pixels"):
        decode_image("person_image", image_bytes("PNG", size=(8, 8)), LIMITS)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_other_colour_modes_are_converted(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    decoded = decode_image("person_image", image_bytes(fmt, mode=mode), LIMITS)
    assert decoded.shape == (128, 96, 3) and decoded.dtype == np.uint8
    assert decoded.std() > 5  # the picture survived the conversion


def test_transparent_pixels_become_white() -> None:
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    decoded = decode_image("clothing_image", buffer.getvalue(), LIMITS)
    assert (decoded == 255).all()


def test_exif_orientation_is_applied() -> None:
    image = Image.fromarray(np.zeros((40, 80, 3), np.uint8))  # 80 wide, 40 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    decoded = decode_image("person_image", buffer.getvalue(), LIMITS)
    assert decoded.shape[:2] == (80, 40)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_validation_accepts_what_decoding_accepts(fmt: str) -> None:
    validate_image("person_image", image_bytes(fmt, size=(96, 128)), LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_validation_refuses_truncated_files(fmt: str) -> None:
    data = image_bytes(fmt, size=(400, 300))
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        validate_image("person_image", data[: len(data) // 2], LIMITS)


def test_validation_refuses_a_png_with_a_corrupted_chunk() -> None:
    data = bytearray(image_bytes("PNG", size=(400, 300)))
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the image data: its CRC no longer matches
    with pytest.raises(InvalidImage, match="person_image could not be decoded"):
        validate_image("person_image", bytes(data), LIMITS)


def test_validation_applies_the_same_limits() -> None:
    with pytest.raises(InvalidImage, match="Unsupported image type: image/gif"):
        validate_image("person_image", image_bytes("GIF"), LIMITS)
    with pytest.raises(InvalidImage, match="30000x30000|megapixels"):
        validate_image("person_image", _png_with_declared_size(30_000, 30_000), LIMITS)


def test_png_round_trip_is_lossless() -> None:
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    decoded = decode_image("result", encode_png(image), LIMITS)
    assert np.array_equal(decoded, image)


def _png_with_declared_size(width: int, height: int) -> bytes:
    """A valid PNG signature and header that declares ``width`` x ``height``, with no real pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("fmt", "size", "expected"),
    [("JPEG", (4000, 5300), (1546, 2048)), ("PNG", (3000, 1200), (2048, 819)), ("JPEG", (600, 3000), (410, 2048))],
)
def test_large_photos_are_decoded_at_the_working_size(fmt: str, size: tuple[int, int], expected) -> None:
    limits = ImageLimits(max_bytes=64 * 2**20, max_pixels=40_000_000, max_side=12_000, working_side=2048)
    decoded = decode_image("person_image", image_bytes(fmt, size=size), limits)

    assert decoded.shape == (expected[1], expected[0], 3) and decoded.dtype == np.uint8
    # Still the same picture: the first channel's gradient runs from dark (top) to light (bottom).
    assert decoded[:8, :, 0].mean() < 32 and decoded[-8:, :, 0].mean() > 224


def test_photos_within_the_working_size_are_left_as_they_are() -> None:
    data = image_bytes("PNG", size=(300, 200))
    assert np.array_equal(
        decode_image("person_image", data, ImageLimits(working_side=300)),
        decode_image("person_image", data, ImageLimits(working_side=2048)),
    )
    assert decode_image("person_image", data, ImageLimits(working_side=300)).shape == (200, 300, 3)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_rotated_large_photo_is_upright_at_the_working_size(fmt: str) -> None:
    image = Image.fromarray(np.zeros((3000, 4000, 3), np.uint8))  # 4000 wide, shot rotated
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, exif=exif)
    limits = ImageLimits(max_bytes=64 * 2**20, max_side=12_000, working_side=1024)

    assert decode_image("person_image", buffer.getvalue(), limits).shape == (1024, 768, 3)


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("check", [validate_image, decode_image])
def test_a_hostile_image_is_refused_from_its_header_or_decoded_within_the_budget(check, name: str) -> None:
    data, refused, limits = hostile_bytes(name), HOSTILE[name].refused, ImageLimits()
    if refused:
        with pytest.raises(InvalidImage, match=refused) as refusal:
            check("person_image", data, limits)
        assert str(refusal.value).startswith("person_image") and reads_like_a_sentence(str(refusal.value))
        return
    with Image.open(io.BytesIO(data)) as image:
        assert decode_cost(image, limits.working_side, count_jpeg_scans(data, 100)) <= limits.max_decode_bytes
    decoded = check("person_image", data, limits)
    if check is decode_image:
        assert decoded.dtype == np.uint8 and max(decoded.shape[:2]) == limits.working_side


def test_jpeg_scans_are_counted_without_decoding() -> None:
    assert count_jpeg_scans(image_bytes("JPEG", size=(64, 64)), stop_after=100) == 1
    assert count_jpeg_scans(image_bytes("JPEG", size=(64, 64), progressive=True), stop_after=100) == 10
    assert count_jpeg_scans(progressive_scan_bomb(scans=500), stop_after=100) == 101  # stops early


def _interlaced_png(width: int, height: int, raw_bytes: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)  # 8-bit RGB, Adam7
    idat = zlib.compress(b"\0" * raw_bytes)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_an_interlaced_png_is_checked_by_its_seven_passes() -> None:
    width, height = 97, 61  # passes of uneven sizes
    complete = sum(
        rows * (1 + columns * 3)
        for rows, columns in [(8, 13), (8, 12), (8, 25), (16, 24), (15, 49), (31, 48), (30, 97)]
    )
    validate_image("person_image", _interlaced_png(width, height, complete), LIMITS)
    assert decode_image("person_image", _interlaced_png(width, height, complete), LIMITS).shape == (61, 97, 3)
    with pytest.raises(InvalidImage, match="pixel data is truncated"):
        validate_image("person_image", _interlaced_png(width, height, complete - 1), LIMITS)


def test_at_most_a_few_photos_are_checked_or_decoded_at_once(monkeypatch) -> None:
    """A burst of uploads waits for a slot rather than holding a decode's memory each."""
    running, most = [], []
    lock = threading.Lock()
    check = images._check_decode_cost

    def slow_check(*args) -> None:
        with lock:
            running.append(1)
            most.append(len(running))
        time.sleep(0.05)
        with lock:
            running.pop()
        check(*args)

    monkeypatch.setattr(images, "_check_decode_cost", slow_check)
    data = image_bytes("PNG", size=(96, 128))
    calls = [lambda: validate_image("person_image", data, LIMITS), lambda: decode_image("person_image", data, LIMITS)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda index: calls[index % 2](), range(32)))
    assert max(most) == images.CONCURRENT_DECODES


@pytest.mark.parametrize("name, pil_format", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_a_result_is_encoded_in_its_output_format_at_its_quality(name: str, pil_format: str) -> None:
    from tryon.images import OUTPUT_FORMATS, OutputFormat, encode_picture

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (120, 90, 3), dtype=np.uint8), (0, 0), 3)
    quality = None if name == "png" else 95
    encoded = encode_picture(image, OutputFormat(name, quality=quality))
    decoded = Image.open(io.BytesIO(encoded))
    assert decoded.format == pil_format and decoded.size == (90, 120)
    assert OutputFormat(name).media_type == OUTPUT_FORMATS[name][0] == Image.MIME[pil_format]
    if name == "png":
        assert np.array_equal(np.asarray(decoded.convert("RGB")), image)  # lossless
    else:
        rougher = encode_picture(image, OutputFormat(name, quality=20))
        assert len(rougher) < len(encoded)
        assert np.abs(np.asarray(decoded.convert("RGB"), np.int16) - image).mean() < 4
