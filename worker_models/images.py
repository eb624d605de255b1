"""Safe image decoding: every image a worker or the orchestrator touches comes through here.

Untrusted bytes become a fully loaded RGB `PIL.Image.Image`, or a `BadImageError` that
says what is wrong. The pixel count is checked from the header before any pixel is
decoded (decompression bombs), and PIL's own bomb check is turned into the same error.
PIL's global `Image.MAX_IMAGE_PIXELS` is left alone: other code relies on it.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from dicec.errors import BadImageError

MAX_IMAGE_PIXELS = 40_000_000  # about 7300 x 5500: larger than any camera frame we expect
MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024
PNG_COMPRESS_LEVEL = 1  # fast; images are stored briefly, by content hash
BACKGROUND_RGB = (255, 255, 255)  # transparent pixels are shown over white, as browsers do
MAX_8BIT = 255
MAX_16BIT = 65535

# What PIL's decoders raise on truncated or corrupt data (they do not share a base class).
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
)
BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def decode_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode untrusted bytes into a loaded RGB image (EXIF orientation applied, frame 0)."""
    if not data:
        raise BadImageError("image is empty (0 bytes)")
    opened = _open(data, max_pixels)
    try:
        opened.seek(0)  # animated images: the first frame
        opened.load()
    except BOMB_ERRORS as exc:
        raise _bomb_error(exc, max_pixels) from None
    except DECODE_ERRORS as exc:
        raise BadImageError(f"image is truncated or corrupt: {exc}") from None
    oriented = _apply_exif_orientation(opened)
    rgb = to_rgb(oriented)
    if type(rgb) is not Image.Image:  # a plugin's ImageFile still holds its file object
        rgb = rgb.copy()
    return rgb


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Parse the header only, and refuse an image whose header promises too many pixels."""
    try:
        opened = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImageError("not an image: cannot identify format") from None
    except BOMB_ERRORS as exc:
        raise _bomb_error(exc, max_pixels) from None
    except DECODE_ERRORS as exc:
        raise BadImageError(f"image is truncated or corrupt: {exc}") from None
    width, height = opened.size
    if width * height > max_pixels:
        raise BadImageError(
            f"image has {width} x {height} = {width * height} pixels, "
            f"over the limit of {max_pixels}"
        )
    return opened


def _bomb_error(exc: Exception, max_pixels: int) -> BadImageError:
    match = _BOMB_PIXELS.search(str(exc))
    pixels = match.group(1) if match else "too many"
    return BadImageError(
        f"image has {pixels} pixels, over the limit of {max_pixels} (decompression bomb?)"
    )


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate as the EXIF orientation tag says; a corrupt EXIF block is ignored, not fatal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns about odd EXIF; the pixels are fine
        try:
            return ImageOps.exif_transpose(image) or image
        except DECODE_ERRORS:
            return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB (16-bit scaled, alpha composited over white)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return _scaled_to_8bit(image).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        return _over_background(image.convert("RGBA"))
    if mode in _ALPHA_MODES:
        return _over_background(image.convert("RGBA"))
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise BadImageError(f"unsupported image mode {mode}: {exc}") from None


def _over_background(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, BACKGROUND_RGB)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _scaled_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to 8-bit by scaling the value range, never by clipping."""
    import numpy as np  # here: the program runtime (and the jail's zygote) never needs it

    values = np.asarray(image, dtype=np.float64)
    if image.mode in _SIXTEEN_BIT_MODES:
        top = MAX_16BIT
    elif image.mode == "F":
        top = 1.0 if values.size and values.min() >= 0.0 and values.max() <= 1.0 else None
    else:  # "I": 16-bit PNGs decode to this mode in some PIL versions
        top = MAX_16BIT if values.size and values.min() >= 0 and values.max() <= MAX_16BIT else None
    if top is None:  # an arbitrary range: stretch min..max to 0..255
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        values = (values - low) / ((high - low) or 1.0)
    else:
        values = values / top
    eight = np.clip(np.rint(values * MAX_8BIT), 0, MAX_8BIT).astype(np.uint8)
    return Image.fromarray(eight)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes that depend only on the pixels (no metadata), so equal images hash equal."""
    if image.mode not in ("RGB", "RGBA", "L", "LA", "1", "P", "I;16"):
        image = to_rgb(image)
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    if image.mode == "P":
        clean.putpalette(image.getpalette() or [])
    buf = io.BytesIO()
    clean.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def load_image_file(path: str | Path, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Read and decode an image file; files over MAX_IMAGE_FILE_BYTES are refused unread."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_IMAGE_FILE_BYTES + 1)
    except OSError as exc:
        raise BadImageError(f"cannot read image file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_IMAGE_FILE_BYTES:
        raise BadImageError(f"image file {path} is over the limit of {MAX_IMAGE_FILE_BYTES} bytes")
    try:
        return decode_image(data, max_pixels=max_pixels)
    except BadImageError as exc:
        raise BadImageError(f"{path}: {exc}") from None
