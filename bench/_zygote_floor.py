"""What the kernel alone charges a forked task, in an interpreter the zygote's size.

    .venv/bin/python bench/_zygote_floor.py <image-params-json>   (run by bench/jail_cpu.py)

Builds the zygote's interpreter image the way jail/__main__ does (OpenSSL kept out, the
zygote's imports, its warm-up runs), then forks children that do nothing but exit, and
children that write one byte into each of COPIED_PAGES pages the parent had resident
before exiting. Prints one JSON object: the image's anonymous memory and mappings, the
CPU of a bare fork and exit (the parent's and the child's), and the CPU of one page
copy (its fault, its copy, and freeing it at exit), the difference of the two children
over the pages. No Python runs in the children beyond the writes, so this is the part
of a jailed task's cost no change to the jail's own code can remove.
"""

from __future__ import annotations

import gc
import json
import mmap
import os
import re
import resource
import sys
from pathlib import Path

for _name in ("ssl", "_ssl", "_hashlib"):  # as jail/__main__ does before any import
    sys.modules[_name] = None  # type: ignore[assignment]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.program.jail import zygote  # noqa: E402 - after the block above
from orchestrator.program.jail.leanfork import lean_fork  # noqa: E402

PAGE = mmap.PAGESIZE
COPIED_PAGES = 700  # about what a claims task's child copies
CHILDREN = 300


def cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def fork_children(count: int, pages: mmap.mmap | None) -> tuple[float, float]:
    """CPU ms per child of the parent and of the children: fork, (writes,) exit, reap."""
    parent0 = resource.getrusage(resource.RUSAGE_SELF)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(count):
        pid = lean_fork()
        if pid == 0:
            if pages is not None:
                for index in range(COPIED_PAGES):
                    pages[index * PAGE] = 2
            os._exit(0)
        os.waitpid(pid, 0)
    parent1 = resource.getrusage(resource.RUSAGE_SELF)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        (cpu_s(parent1) - cpu_s(parent0)) * 1000 / count,
        (cpu_s(children1) - cpu_s(children0)) * 1000 / count,
    )


def main(argv: list[str]) -> None:
    zygote.warm_up(zygote.parse_image_params(argv[1]))
    pages = mmap.mmap(-1, COPIED_PAGES * PAGE)
    pages.madvise(mmap.MADV_NOHUGEPAGE)  # 4 KiB pages, as the zygote's heap has
    for index in range(COPIED_PAGES):
        pages[index * PAGE] = 1  # resident in the parent: a child's write copies it
    rollup = Path("/proc/self/smaps_rollup").read_text()
    anon_kb = int(re.search(r"^Anonymous:\s+(\d+)", rollup, re.M).group(1))  # type: ignore[union-attr]
    mappings = len(Path("/proc/self/maps").read_text().splitlines())
    gc.freeze()  # as the zygote does before each fork
    fork_children(20, None)  # warm
    bare_parent, bare_child = fork_children(CHILDREN, None)
    _, copying_child = fork_children(CHILDREN, pages)
    print(json.dumps({
        "anon_mb": (anon_kb - COPIED_PAGES * PAGE // 1024) / 1024, "mappings": mappings - 1,
        "fork_exit_parent_ms": bare_parent, "fork_exit_child_ms": bare_child,
        "copy_us": (copying_child - bare_child) * 1000 / COPIED_PAGES,
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv)
