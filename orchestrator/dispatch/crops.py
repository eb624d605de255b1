"""Ship only the crop: a call served at another site than its images gets its crop's own
pixels, not a reference into the whole photo (DiCE-M: detection at the edge, crops to the
cloud).

A crop is (parent hash, box) until a worker needs pixels; a worker beside the images
fetches the parent, but one across a link would pull the whole photo over it. For calls
of the functions that only remote pools serve, the dispatcher cuts the crop here (PNG,
lossless: the same pixels the worker would cut), stores it under its own hash and sends
that reference instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis

from dicec import keys
from dicec.errors import DicecError, WireFormatError
from worker_models.calls import PreparedCall
from worker_models.imageref import ImageRef, crop_to_box, digest_of, encode_png
from worker_models.images import decode_image

CUT_CACHE_ENTRIES = 256


class CropShipper:
    """Replaces crop references of remote calls by references to stored crops."""

    def __init__(self, aredis: aioredis.Redis, remote_functions: set[str]) -> None:
        self.redis = aredis
        self.remote_functions = remote_functions
        self._cut: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # crop ref -> new
        self.shipped = 0

    async def prepare(self, prepared: PreparedCall, params: dict[str, Any]) -> None:
        """Rewrite, in `prepared.params` and the request's `params`, each crop reference
        of a remote function's call; the crops' bytes join `prepared.uploads`."""
        if prepared.spec.name not in self.remote_functions:
            return
        for name in prepared.spec.image_params():
            value = prepared.params.get(name)
            ref = _crop_ref(value)
            if ref is None:
                continue
            cut = await self._cut_crop(ref)
            if cut is None:
                continue  # the parent is gone: the worker reports it, the call is resent
            new_ref, data = cut
            prepared.uploads[new_ref.removeprefix("img:")] = data
            prepared.params[name] = params[name] = new_ref
            self.shipped += 1

    async def _cut_crop(self, ref: ImageRef) -> tuple[str, bytes] | None:
        key = str(ref)
        if key in self._cut:
            self._cut.move_to_end(key)
            return self._cut[key]
        parent = await self.redis.get(keys.image_key(ref.digest))
        if parent is None:
            return None
        try:
            data = await asyncio.to_thread(_crop_png, parent, ref.box)
        except DicecError:
            return None  # a bad box: the worker gives the call its clear error
        made = (f"img:{digest_of(data)}", data)
        self._cut[key] = made
        if len(self._cut) > CUT_CACHE_ENTRIES:
            self._cut.popitem(last=False)
        return made


def _crop_ref(value: Any) -> ImageRef | None:
    if not isinstance(value, str):
        return None
    with contextlib.suppress(WireFormatError):
        ref = ImageRef.parse(value)
        return ref if ref.box is not None else None
    return None


def _crop_png(parent: bytes, box: tuple[int, int, int, int] | None) -> bytes:
    image = decode_image(parent)
    return encode_png(crop_to_box(image, box) if box else image)
