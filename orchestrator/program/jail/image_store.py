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

import fcntl
import mmap
import os
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


SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def pixels_memfd(pixels: bytes) -> int:
    """A sealed memory file holding an image's raw pixels: how the orchestrator hands an
    image to the zygote (with SCM_RIGHTS). As base64 in a JSON line a 320x240 photo cost
    ~1.3 ms to encode and ~0.8 ms to decode; this is one write, and nobody can change
    the pixels afterwards."""
    fd = os.memfd_create("dicec-image", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(pixels)
        while view:
            view = view[os.write(fd, view) :]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


class ImageStore:
    def __init__(self) -> None:
        self._images: dict[str, StoredImage] = {}

    def add(self, digest: str, mode: str, size: tuple[int, int], fd: int) -> None:
        """Keep the image whose pixels are in memory file `fd` (pixels_memfd; taken over)."""
        self.forget(digest)
        try:
            mapping = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)  # sealed: read-only
        finally:
            os.close(fd)
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
