"""The zygote's cached task images, kept out of every child but the one that needs each.

The zygote caches the images its tasks use (a 1000-task batch often cycles through a few
dozen photos). Held as PIL images in its heap, every cached image would be in every
child's address space: readable by any task whose program reached native code, and
paid for by every fork (its page-table entries are copied) and every exit (they are
torn down). 64 cached 320x240 photos made the zygote 37 MB instead of 16 MB and the
jailed runner 15 % slower (sandbox_overhead.py's cached-photos row). So each image's
pixels live in their own anonymous mapping marked MADV_DONTFORK: a fork leaves them
out, except the one mapping that `let_fork` lets through for the task being spawned,
from which the child makes its task's images. (Two plain calls around the fork, not a
context manager: the zygote's code per spawn is pages it copies after every fork.)
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

from PIL import Image

from worker_models.imageref import ImageRef, TrackedImage


@dataclass
class StoredImage:
    digest: str
    mode: str
    size: tuple[int, int]
    pixels: mmap.mmap

    def open(self) -> TrackedImage:
        """The task's image, made in the child from the one mapping it inherited."""
        image = Image.frombytes(self.mode, self.size, memoryview(self.pixels))
        return TrackedImage.wrap(image, ImageRef(self.digest))


class ImageStore:
    def __init__(self) -> None:
        self._images: dict[str, StoredImage] = {}

    def add(self, digest: str, mode: str, size: tuple[int, int], pixels: bytes) -> None:
        self.forget(digest)
        mapping = mmap.mmap(-1, max(len(pixels), 1))
        mapping.write(pixels)
        mapping.madvise(mmap.MADV_DONTFORK)
        self._images[digest] = StoredImage(digest, mode, size, mapping)

    def forget(self, digest: str) -> None:
        stored = self._images.pop(digest, None)
        if stored is not None:
            stored.pixels.close()

    def get(self, digest: str) -> StoredImage | None:
        return self._images.get(digest)

    @staticmethod
    def let_fork(stored: StoredImage | None) -> None:
        """The next fork's child inherits this image (call `keep_from_forks` after it)."""
        if stored is not None:
            stored.pixels.madvise(mmap.MADV_DOFORK)

    @staticmethod
    def keep_from_forks(stored: StoredImage | None) -> None:
        if stored is not None:
            stored.pixels.madvise(mmap.MADV_DONTFORK)
