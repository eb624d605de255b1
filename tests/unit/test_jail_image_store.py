"""The zygote's cached images: a child inherits its own task's pixels and no other's."""

from __future__ import annotations

import faulthandler
import os
import signal

import pytest
from PIL import Image

from orchestrator.program.jail.image_store import ImageStore, pixels_memfd
from orchestrator.program.jail.leanfork import lean_fork


def _store() -> ImageStore:
    store = ImageStore()
    for digest, color in (("a" * 64, (255, 0, 0)), ("b" * 64, (0, 0, 255))):
        image = Image.new("RGB", (64, 48), color)
        store.add(digest, image.mode, image.size, pixels_memfd(image.tobytes()))
    return store


def test_a_child_gets_its_own_image_and_no_other() -> None:
    store = _store()
    mine, other = store.get("a" * 64), store.get("b" * 64)
    assert mine is not None and other is not None
    read_fd, write_fd = os.pipe()
    store.let_fork(mine)
    pid = lean_fork()
    if pid == 0:  # the child: its image opens; the other one is not mapped at all
        os.close(read_fd)
        faulthandler.disable()  # the SIGSEGV below is the point, not a crash report
        opened = mine.open()
        os.write(write_fd, bytes(opened.getpixel((0, 0))))
        os.write(write_fd, bytes([other.pixels[0]]))  # SIGSEGV: never inherited
        os._exit(0)
    store.keep_from_forks(mine)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        seen = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert seen == bytes([255, 0, 0])  # its own pixels, and nothing from the other image
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV
    assert other.pixels[0] == 0 and mine.open().getpixel((0, 0)) == (255, 0, 0)  # here: both


def test_forgotten_images_are_unmapped() -> None:
    store = _store()
    stored = store.get("a" * 64)
    store.forget("a" * 64)
    assert store.get("a" * 64) is None
    assert stored is not None and stored.pixels.closed


def test_the_pixels_handed_over_are_sealed() -> None:
    """Nobody (orchestrator, zygote, child) can change an image's pixels once handed over."""
    fd = pixels_memfd(b"\x01\x02\x03")
    try:
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"\x09", 0)
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 1)
        assert os.pread(fd, 3, 0) == b"\x01\x02\x03"
    finally:
        os.close(fd)
