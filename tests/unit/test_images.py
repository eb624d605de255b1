"""Safe image decoding: odd modes become correct RGB, bad bytes become clear BadImageErrors."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dicec.errors import BadImageError
from worker_models import images
from worker_models.images import MAX_IMAGE_PIXELS, decode_image, encode_png, load_image_file

ORIENTATION_TAG = 0x0112
ROTATE_90_CW = 6  # EXIF orientation: the stored pixels must be rotated 90 degrees clockwise


def _bytes(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def _png_with_header_size(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming width x height, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def test_rgb_jpeg_round_trip() -> None:
    source = Image.new("RGB", (40, 30), (200, 30, 10))
    decoded = decode_image(_bytes(source, "JPEG", quality=95))
    assert decoded.mode == "RGB" and decoded.size == (40, 30)
    r, g, b = decoded.getpixel((20, 15))
    assert abs(r - 200) < 8 and abs(g - 30) < 8 and abs(b - 10) < 8
    assert type(decoded) is Image.Image  # loaded, detached from the file object


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    decoded = decode_image(_bytes(cmyk, "JPEG", quality=95))
    assert decoded.mode == "RGB"
    r, g, b = decoded.getpixel((8, 8))
    assert r > 230 and g < 25 and b < 25


def test_16bit_grey_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16)
    source = Image.fromarray(values)
    data = _bytes(source, "PNG")
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")  # really a 16-bit PNG
    decoded = decode_image(data)
    assert decoded.mode == "RGB"
    grey = [decoded.getpixel((x, 0))[0] for x in range(4)]
    assert grey == [0, 4, 128, 255]  # scaled by 255/65535; clipping would give 255s


def test_32bit_integer_image_is_stretched() -> None:
    values = np.array([[-5000, 0, 5000, 100000]], dtype=np.int32)
    decoded = decode_image(_bytes(Image.fromarray(values), "TIFF"))
    grey = [decoded.getpixel((x, 0))[0] for x in range(4)]
    assert grey[0] == 0 and grey[-1] == 255 and grey[0] < grey[1] < grey[2] < grey[3]


def test_palette_png_with_transparency_is_composited_over_white() -> None:
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 red, 1 blue
    palette.paste(1, (0, 0, 5, 10))
    decoded = decode_image(_bytes(palette, "PNG", transparency=0))
    assert decoded.mode == "RGB"
    assert decoded.getpixel((2, 5)) == (0, 0, 255)  # opaque blue stays blue
    assert decoded.getpixel((8, 5)) == images.BACKGROUND_RGB  # transparent red -> white


@pytest.mark.parametrize("mode,color,expected", [
    ("RGBA", (0, 255, 0, 0), (255, 255, 255)),
    ("RGBA", (0, 255, 0, 255), (0, 255, 0)),
    ("LA", (0, 255), (0, 0, 0)),
    ("L", 77, (77, 77, 77)),
    ("1", 1, (255, 255, 255)),
])  # fmt: skip
def test_modes_become_rgb(mode: str, color: object, expected: tuple[int, int, int]) -> None:
    decoded = decode_image(_bytes(Image.new(mode, (6, 6), color), "PNG"))  # type: ignore[arg-type]
    assert decoded.mode == "RGB" and decoded.getpixel((3, 3)) == expected


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = _bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    decoded = decode_image(data)
    r, g, b = decoded.getpixel((4, 4))
    assert r > 200 and b < 50


def test_exif_orientation_is_applied() -> None:
    source = Image.new("RGB", (60, 20), (0, 0, 0))
    source.paste((255, 255, 255), (0, 0, 10, 20))  # a white strip on the left edge
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = ROTATE_90_CW
    decoded = decode_image(_bytes(source, "JPEG", exif=exif.tobytes(), quality=95))
    assert decoded.size == (20, 60)  # rotated 90 degrees
    assert decoded.getpixel((10, 3))[0] > 200  # the left strip is now at the top
    assert decoded.getpixel((10, 56))[0] < 50


def test_empty_bytes() -> None:
    with pytest.raises(BadImageError, match=r"image is empty \(0 bytes\)"):
        decode_image(b"")


def test_text_is_not_an_image() -> None:
    with pytest.raises(BadImageError, match="not an image: cannot identify format"):
        decode_image(b"hello, I am a text file\n" * 10)


def test_truncated_jpeg() -> None:
    data = _bytes(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")
    with pytest.raises(BadImageError, match="image is truncated or corrupt: "):
        decode_image(data[: len(data) // 2])


def test_corrupt_png_body() -> None:
    data = bytearray(_bytes(Image.effect_noise((32, 32), 50), "PNG"))
    data[60:80] = b"\xff" * 20  # inside the IDAT stream: the CRC or zlib check fails
    with pytest.raises(BadImageError, match="image is truncated or corrupt: "):
        decode_image(bytes(data))


def test_header_over_the_pixel_limit_is_refused_before_decoding() -> None:
    data = _png_with_header_size(20000, 20000)  # 400 M pixels claimed, 100 bytes sent
    with pytest.raises(BadImageError, match="over the limit of 40000000"):
        decode_image(data)
    data = _png_with_header_size(8000, 6000)  # under PIL's own limit, over ours
    with pytest.raises(BadImageError, match=r"image has 8000 x 6000 = 48000000 pixels, over"):
        decode_image(data)


def test_compressed_bomb_png_is_refused() -> None:
    bomb = _bytes(Image.new("1", (8000, 8000), 0), "PNG", optimize=True)
    assert len(bomb) < 100_000  # tiny on disk, 64 M pixels decoded
    with pytest.raises(BadImageError, match="8000 x 8000 = 64000000 pixels, over the limit"):
        decode_image(bomb)
    assert decode_image(bomb, max_pixels=64_000_000).size == (8000, 8000)


def test_max_pixels_argument_and_constant() -> None:
    assert MAX_IMAGE_PIXELS == 40_000_000
    assert Image.MAX_IMAGE_PIXELS is not None  # PIL's global is left alone
    with pytest.raises(BadImageError, match="10 x 10 = 100 pixels, over the limit of 99"):
        decode_image(_bytes(Image.new("RGB", (10, 10)), "PNG"), max_pixels=99)


def test_encode_png_is_deterministic_and_ignores_metadata() -> None:
    image = Image.effect_noise((20, 20), 40).convert("RGB")
    tagged = image.copy()
    tagged.info["icc_profile"] = b"not really a profile"
    tagged.info["dpi"] = (300, 300)
    assert encode_png(image) == encode_png(image.copy()) == encode_png(tagged)
    assert decode_image(encode_png(image)).tobytes() == image.tobytes()


def test_load_image_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    Image.new("RGB", (5, 4), (1, 2, 3)).save(path)
    assert load_image_file(path).getpixel((0, 0)) == (1, 2, 3)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(BadImageError, match="empty.jpg: image is empty"):
        load_image_file(tmp_path / "empty.jpg")
    with pytest.raises(BadImageError, match="cannot read image file"):
        load_image_file(tmp_path / "missing.jpg")


def test_load_image_file_refuses_huge_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "MAX_IMAGE_FILE_BYTES", 1000)
    path = tmp_path / "big.png"
    Image.effect_noise((100, 100), 50).save(path)
    with pytest.raises(BadImageError, match="over the limit of 1000 bytes"):
        load_image_file(path)
