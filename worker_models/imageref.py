"""Images by reference: stored once in Redis under their content hash, a crop is
(parent hash, box) until a worker needs pixels.

Reference string: ``img:<sha256>`` or ``img:<sha256>@x0,y0,x1,y1`` (box in the parent's
pixel coordinates). A program's images are `TrackedImage`s, so a crop of a crop stays a
reference to the original bytes and no pixels travel twice.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from dicec import keys
from dicec.errors import BadImageError, ImageNotFoundError, WireFormatError
from worker_models.images import decode_image

if TYPE_CHECKING:  # only the store needs a client: the jail's zygote never imports redis
    import redis

REF_PATTERN = re.compile(r"^img:([0-9a-f]{64})(?:@(-?\d+),(-?\d+),(-?\d+),(-?\d+))?$")
DECODED_CACHE_ENTRIES = 64


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
        match = REF_PATTERN.match(text) if isinstance(text, str) else None
        if not match:
            raise WireFormatError(f"not an image reference: {str(text)[:80]!r}")
        digest, *box = match.groups()
        if box[0] is None:
            return cls(digest)
        return cls(digest, tuple(int(v) for v in box))  # type: ignore[arg-type]


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
        cropped = super().crop(box)
        if box is None:
            return TrackedImage.wrap(cropped, self.dicec_ref)
        return TrackedImage.wrap(cropped, self.dicec_ref.crop(tuple(box)))

    def copy(self) -> Image.Image:
        return TrackedImage.wrap(super().copy(), self.dicec_ref)


def crop_to_box(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise BadImageError(f"empty crop box {box}: width and height must be positive")
    return image.crop(box)


class ImageStore:
    """Content-addressed image bytes in Redis (sync client; workers and CLI)."""

    def __init__(self, client: redis.Redis, ttl_s: int = keys.IMAGE_TTL_S) -> None:
        self._redis = client
        self._ttl_s = ttl_s
        self._decoded: OrderedDict[str, Image.Image] = OrderedDict()

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
            parent = decode_image(self.get_bytes(ref.digest))
            self._decoded[ref.digest] = parent
            if len(self._decoded) > DECODED_CACHE_ENTRIES:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(ref.digest)
        if ref.box is None:
            return parent
        return crop_to_box(parent, ref.box)
