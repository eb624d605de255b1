"""Images by reference: stored once in Redis under their content hash, a crop is
(parent hash, box) until a worker needs pixels.

Reference string: ``img:<sha256>`` or ``img:<sha256>@x0,y0,x1,y1`` (box in the parent's
pixel coordinates). A program's images are `TrackedImage`s, so a crop of a crop stays a
reference to the original bytes and no pixels travel twice.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from dicec import keys
from dicec.errors import BadImageError, ImageNotFoundError, WireFormatError
from worker_models.images import decode_image

if TYPE_CHECKING:  # only the store needs a client: the jail's zygote never imports redis
    import redis

REF_PATTERN = re.compile(r"^img:([0-9a-f]{64})(?:@(-?\d+),(-?\d+),(-?\d+),(-?\d+))?$")
DECODED_CACHE_ENTRIES = 64
# A crop is at least this many pixels on each side (or the whole image side, if smaller):
# a degenerate detector box (1 px wide) still gives a model something to look at.
MIN_CROP_SIDE_PX = 4


@dataclass(frozen=True)
class ImageRef:
    digest: str
    box: tuple[int, int, int, int] | None = None

    def __str__(self) -> str:
        if self.box is None:
            return f"img:{self.digest}"
        return f"img:{self.digest}@{','.join(str(v) for v in self.box)}"

    def crop(self, box: tuple[float, float, float, float]) -> ImageRef:
        x0, y0, x1, y1 = (round(v) for v in box)
        if self.box is not None:
            px, py = self.box[0], self.box[1]
            x0, y0, x1, y1 = x0 + px, y0 + py, x1 + px, y1 + py
        return ImageRef(self.digest, (x0, y0, x1, y1))

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        digest, *box = _ref_match(text).groups()
        if box[0] is None:
            return cls(digest)
        return cls(digest, tuple(int(v) for v in box))  # type: ignore[arg-type]

    @staticmethod
    def digest_of_ref(text: str) -> str:
        """The digest a reference names (checked as `parse` checks it), without building
        the reference: the jail's session asks this of every image a call names."""
        return _ref_match(text).group(1)


def _ref_match(text: object) -> re.Match[str]:
    match = REF_PATTERN.match(text) if isinstance(text, str) else None
    if not match:
        raise WireFormatError(f"not an image reference: {str(text)[:80]!r}")
    return match


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class TrackedImage(Image.Image):
    """A PIL image that remembers which stored bytes (and box) it came from."""

    dicec_ref: ImageRef

    @classmethod
    def wrap(cls, image: Image.Image, ref: ImageRef) -> TrackedImage:
        tracked = cls.__new__(cls)
        tracked.__dict__.update(image.__dict__)
        tracked.dicec_ref = ref
        return tracked

    def crop(self, box=None) -> Image.Image:  # noqa: ANN001 - PIL's signature
        """A crop clamped to this image (see `clamp_box`), still a reference."""
        if box is None:
            return TrackedImage.wrap(super().crop(None), self.dicec_ref)
        clamped = clamp_box(tuple(box), self.size)
        return TrackedImage.wrap(super().crop(clamped), self.dicec_ref.crop(clamped))

    def copy(self) -> Image.Image:
        return TrackedImage.wrap(super().copy(), self.dicec_ref)


def clamp_box(box: tuple[float, ...], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A crop box in integer pixels, inside an image of `size`, at least MIN_CROP_SIDE_PX on
    each side (or the image's side): the pixels a crop may cost are bounded by its image.

    A box that lies outside the image, or whose corners are swapped, is a BadImageError."""
    if len(box) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in box):
        raise BadImageError(f"crop box {box!r}: four finite numbers expected")
    x0, y0, x1, y1 = (round(v) for v in box)
    if x1 < x0 or y1 < y0:
        raise BadImageError(f"crop box {box}: right/upper edge before left/lower edge")
    width, height = size
    if x1 < 0 or y1 < 0 or x0 > width or y0 > height:
        raise BadImageError(f"crop box {box} lies outside its {width} x {height} image")
    x0, x1 = _clamp_span(x0, x1, width)
    y0, y1 = _clamp_span(y0, y1, height)
    return x0, y0, x1, y1


def _clamp_span(lo: int, hi: int, side: int) -> tuple[int, int]:
    """[lo, hi) cut to [0, side) and widened about its centre to the minimum side."""
    lo, hi = max(0, lo), min(side, hi)
    want = min(MIN_CROP_SIDE_PX, side)
    if hi - lo < want:
        lo = max(0, min(side - want, (lo + hi - want) // 2))
        hi = lo + want
    return lo, hi


def crop_to_box(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The pixels of a reference's box, clamped to the image."""
    return image.crop(clamp_box(box, image.size))


class ImageStore:
    """Content-addressed image bytes in Redis (sync client; workers and CLI)."""

    def __init__(self, client: redis.Redis, ttl_s: int = keys.IMAGE_TTL_S) -> None:
        self._redis = client
        self._ttl_s = ttl_s
        self._decoded: OrderedDict[str, Image.Image] = OrderedDict()
        self._sizes: dict[str, int] = {}  # digest -> stored bytes, of the parents decoded
        self._fetched: dict[str, int] = {}  # digest -> bytes read from Redis, not yet claimed

    def put(self, data: bytes) -> ImageRef:
        digest = digest_of(data)
        self._redis.set(keys.image_key(digest), data, ex=self._ttl_s, nx=True)
        return ImageRef(digest)

    def get_bytes(self, digest: str) -> bytes:
        data = self._redis.get(keys.image_key(digest))
        if data is None:
            raise ImageNotFoundError(f"image {digest[:12]}… is not in the image store (expired?)")
        return data

    def resolve(self, ref: ImageRef | str) -> Image.Image:
        """Pixels of a reference; decoded parents are kept in a small per-process LRU."""
        if isinstance(ref, str):
            ref = ImageRef.parse(ref)
        parent = self._decoded.get(ref.digest)
        if parent is None:
            data = self.get_bytes(ref.digest)
            parent = decode_image(data)
            self._decoded[ref.digest] = parent
            self._sizes[ref.digest] = len(data)
            self._fetched[ref.digest] = self._fetched.get(ref.digest, 0) + len(data)
            if len(self._decoded) > DECODED_CACHE_ENTRIES:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(ref.digest)
        if ref.box is None:
            return parent
        return crop_to_box(parent, ref.box)

    def claim_fetched(self, ref: ImageRef | str) -> int:
        """Bytes read from Redis for this reference's image since the last claim (0 when
        its pixels were already decoded here): what really came over the wire for it."""
        if isinstance(ref, str):
            ref = ImageRef.parse(ref)
        return self._fetched.pop(ref.digest, 0)

    def payload_bytes(self, ref: ImageRef | str) -> int:
        """What a reference's pixels weigh on a link: the stored bytes of a whole image, a
        crop's share of them by area (a crop ships alone). 0 if it was never resolved here."""
        if isinstance(ref, str):
            ref = ImageRef.parse(ref)
        size = self._sizes.get(ref.digest, 0)
        parent = self._decoded.get(ref.digest)
        if ref.box is None or parent is None or size == 0:
            return size
        x0, y0, x1, y1 = ref.box
        width, height = parent.size
        area = max(0, min(x1, width) - max(x0, 0)) * max(0, min(y1, height) - max(y0, 0))
        return round(size * area / (width * height))


def image_to_ref(value: Any, uploads: dict[str, bytes]) -> Any:
    """A reference string for anything image-like; other values pass through unchanged."""
    image = getattr(value, "image", None) if not isinstance(value, Image.Image) else value
    if isinstance(image, TrackedImage):
        return str(image.dicec_ref)
    if isinstance(image, Image.Image):
        data = encode_png(image)
        digest = digest_of(data)
        uploads[digest] = data
        return f"img:{digest}"
    return value
