"""The sandbox's cost, measured side by side in one run.

    .venv/bin/python bench/sandbox_overhead.py [--tasks 500]

1. CPU-bound program code: the same function run plainly (exec with real builtins) and
   through compile_program + run_program; prints the slowdown ratio per workload.
2. Per-task overhead: N concurrent runs of the paper's claims_distributed.py against an
   in-process hermod whose calls take no time; prints tasks per second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.program.sandbox.programs import Limits, compile_program, run_program

REFERENCE = Path("/work/shared/reference-programs/claims_distributed.py")
WORKLOADS = {
    "loop with += ": "t = 0\nfor i in range(300000):\n    t += i",
    "loop with * and %": "t = 0\nfor i in range(300000):\n    t += (i * i) % 7",
    "list comprehension": "x = [i for i in range(300000)]",
    "100k function calls": "def f(x):\n    return x\nfor i in range(100000):\n    f(i)",
    "recursion (depth 50)": "def r(n):\n    return 0 if n == 0 else 1 + r(n - 1)\n"
    "for i in range(2000):\n    r(50)",
}


class InstantHermod:
    async def call(self, name: str, **kwargs: Any) -> Any:
        boxes = [{"x": 0, "y": 0, "width": 4, "height": 4}] * 2
        return boxes if name == "glip" else {"answer": "red", "result": True}


def cpu_ratio(body: str) -> tuple[float, float]:
    source = "async def execute_query(f):\n" + "\n".join("    " + ln for ln in body.splitlines())
    namespace: dict[str, Any] = {}
    exec(compile(source, "plain", "exec"), namespace)  # our own benchmark code
    start = time.perf_counter()
    asyncio.run(namespace["execute_query"]("x"))
    plain = time.perf_counter() - start
    program = compile_program(source, "bench.py", Limits(wall_s=600))
    image = Image.new("RGB", (8, 8))
    start = time.perf_counter()
    asyncio.run(run_program(program, modules={}, image_path="x", image=image))
    return plain, time.perf_counter() - start


async def many_tasks(count: int) -> float:
    program = compile_program(REFERENCE.read_text(), REFERENCE.name)
    image = Image.new("RGB", (64, 48))
    hermod = InstantHermod()
    start = time.perf_counter()
    await asyncio.gather(*[
        run_program(program, modules={"hermod": hermod}, image_path="a.jpg", image=image)
        for _ in range(count)
    ])  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    args = parser.parse_args()
    for label, body in WORKLOADS.items():
        plain, sandboxed = cpu_ratio(body)
        print(f"{label:22s} plain {plain:.3f}s  sandboxed {sandboxed:.3f}s  "
              f"ratio {sandboxed / plain:.1f}x")  # fmt: skip
    elapsed = asyncio.run(many_tasks(args.tasks))
    print(f"{args.tasks} concurrent claims_distributed tasks (instant calls): {elapsed:.2f}s, "
          f"{args.tasks / elapsed:.0f} tasks/s")  # fmt: skip


if __name__ == "__main__":
    main()
