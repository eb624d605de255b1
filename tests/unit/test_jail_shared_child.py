"""Tasks of one program that start together share a jailed child (jail.client): each
keeps its own result, output, namespace and image, and a task whose shared child dies,
is killed, or whose guard trips runs again alone, so that a sibling's fault costs it a
rerun, never its result."""

from __future__ import annotations

import asyncio
import textwrap
from contextlib import closing

from PIL import Image

from dicec.errors import ProgramError, ProgramTimeoutError
from orchestrator.batch.task import TaskOutcome, run_task
from orchestrator.program.jail.client import Jail
from orchestrator.program.jail.unchecked import unchecked_record
from orchestrator.program.sandbox.programs import Limits, compile_program
from tests.support.answers import AnsweringBackend
from worker_models.imageref import ImageRef, TrackedImage, digest_of, encode_png

LIMITS = Limits(wall_s=5, memory_mb=256)
COLORS = ("white", "red", "green", "blue", "yellow", "black", "gray", "orange")

PER_TASK = """
import asyncio
import hermod
from PIL import Image

async def execute_query(image_filename):
    global runs
    try:
        runs += 1
    except NameError:
        runs = 1
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    await asyncio.sleep(0.05)  # every task of the child is alive at once
    pixel = image.getpixel((0, 0))
    print(f"pixel {pixel}")
    return {"runs": runs, "pixel": list(pixel), "size": list(image.size), "boxes": len(boxes)}
"""

SERIAL = """
def execute_command(image):
    patch = ImagePatch(image)
    return {"cars": len(patch.find("car")), "width": image.width}
"""


def tracked(color: str | tuple[int, int, int], size: tuple[int, int] = (32, 24)) -> TrackedImage:
    image = Image.new("RGB", size, color)
    return TrackedImage.wrap(image, ImageRef(digest_of(encode_png(image))))


def run_together(
    jail: Jail, program, images: list[TrackedImage], limits: Limits = LIMITS, batches=None
):
    """The tasks started in one turn, as a batch starts them (`batches`: each task's)."""

    async def one(index: int, image: TrackedImage) -> TaskOutcome:
        async def load() -> TrackedImage:
            return image

        batch = batches[index] if batches else None
        return await run_task(program, f"scene{index}.jpg", load, AnsweringBackend(),
                              limits=limits, jail=jail, task_index=index,
                              batch_id=batch)  # fmt: skip

    async def main() -> list[TaskOutcome]:
        await jail.zygote()  # started before the first task, as the batch runner does
        return await asyncio.gather(*(one(i, im) for i, im in enumerate(images)))

    return asyncio.run(main())


def test_tasks_started_together_share_a_child_and_keep_their_own_state() -> None:
    with closing(Jail(tasks_per_child=4)) as jail:
        images = [tracked(c, (32 + i, 24)) for i, c in enumerate(COLORS)]
        program = compile_program(textwrap.dedent(PER_TASK), "shared.py", LIMITS)
        outcomes = run_together(jail, program, images)
        zygote = jail._zygote
        assert zygote is not None
        assert zygote.children_started == 2  # 8 tasks, 4 a child
        for outcome, image in zip(outcomes, images, strict=True):
            assert outcome.ok, outcome.error
            pixel = list(image.getpixel((0, 0)))
            assert outcome.value == {"runs": 1, "pixel": pixel, "size": list(image.size),
                                     "boxes": 1}  # fmt: skip
            assert outcome.printed == [f"pixel {tuple(pixel)}"]


def test_serial_programs_of_a_shared_child_run_at_once() -> None:
    with closing(Jail(tasks_per_child=8)) as jail:
        images = [tracked(c, (40 + i, 24)) for i, c in enumerate(COLORS)]
        program = compile_program(textwrap.dedent(SERIAL), "serial.py", LIMITS)
        outcomes = run_together(jail, program, images)
        assert jail._zygote is not None and jail._zygote.children_started == 1
        assert [o.value for o in outcomes] == [{"cars": 1, "width": 40 + i}
                                              for i in range(len(images))]  # fmt: skip


def test_tasks_of_two_batches_never_share_a_child() -> None:
    with closing(Jail(tasks_per_child=4)) as jail:
        program = compile_program(textwrap.dedent(PER_TASK), "two.py", LIMITS)
        images = [tracked(c) for c in COLORS[:4]]
        outcomes = run_together(jail, program, images, batches=["a", "b", "a", "b"])
        assert all(o.ok for o in outcomes)
        assert jail._zygote is not None and jail._zygote.children_started == 2


def test_tasks_queued_together_keep_their_images_past_the_zygotes_cache() -> None:
    """Six 9-MB photos start at once: the zygote keeps 32 MB of pixels, so the first
    photos are forgotten while the spawns that need them are still queued; those spawns
    go out before the forget."""
    with closing(Jail(tasks_per_child=16)) as jail:
        images = [tracked((i, 255 - i, 7), (2000, 1500)) for i in range(6)]
        program = compile_program(textwrap.dedent(PER_TASK), "large.py", LIMITS)
        outcomes = run_together(jail, program, images)
        assert [o.value and o.value["pixel"] for o in outcomes] == [
            [i, 255 - i, 7] for i in range(6)]  # fmt: skip


def test_one_child_per_task_when_set_to_one() -> None:
    with closing(Jail(tasks_per_child=1)) as jail:
        program = compile_program(textwrap.dedent(PER_TASK), "alone.py", LIMITS)
        outcomes = run_together(jail, program, [tracked(c) for c in COLORS[:3]])
        assert all(o.ok for o in outcomes)
        assert jail._zygote is not None and jail._zygote.children_started == 3


def test_a_task_that_starts_after_the_last_one_ended_is_spawned_at_once() -> None:
    """A baseline node's next task starts a few ms after the last one's `done`, before the
    zygote reports that child's exit: nothing else runs, so nothing is worth waiting for."""
    with closing(Jail(tasks_per_child=16)) as jail:
        program = compile_program(textwrap.dedent(SERIAL), "one_by_one.py", LIMITS)

        async def one_by_one() -> list[TaskOutcome]:
            await jail.zygote()
            outcomes = []
            for index, color in enumerate(COLORS[:3]):
                image = tracked(color)

                async def load(image: TrackedImage = image) -> TrackedImage:
                    return image

                outcomes.append(await run_task(program, f"s{index}.jpg", load,
                                               AnsweringBackend(), limits=LIMITS, jail=jail,
                                               task_index=index))  # fmt: skip
            return outcomes

        outcomes = asyncio.run(one_by_one())
        assert [o.value for o in outcomes] == [{"cars": 1, "width": 32}] * 3
        zygote = jail._zygote
        assert zygote is not None
        assert (zygote.children_started, zygote.spawns_delayed) == (3, 0)


def test_tasks_that_start_while_another_runs_wait_to_share_its_next_child() -> None:
    with closing(Jail(tasks_per_child=16)) as jail:
        program = compile_program(textwrap.dedent(PER_TASK), "later.py", LIMITS)

        async def later() -> list[TaskOutcome]:
            zygote = await jail.zygote()

            def start(index: int) -> asyncio.Task[TaskOutcome]:
                image = tracked(COLORS[index])

                async def load() -> TrackedImage:
                    return image

                return asyncio.ensure_future(run_task(program, f"l{index}.jpg", load,
                                                      AnsweringBackend(), limits=LIMITS,
                                                      jail=jail, task_index=index))  # fmt: skip

            first = start(0)
            while not zygote.group_size:  # its child is running (its sleep is 50 ms)
                await asyncio.sleep(0.001)
            rest = [start(1), start(2)]
            return [await first, *await asyncio.gather(*rest)]

        outcomes = asyncio.run(later())
        assert all(o.ok for o in outcomes), [o.error for o in outcomes]
        zygote = jail._zygote
        assert zygote is not None
        assert (zygote.children_started, zygote.spawns_delayed) == (2, 1)


KILLS_ITS_PROCESS = """
import os

def execute_command(image):
    if image.getpixel((0, 0)) == (255, 0, 0):
        os._exit(3)
    return {"width": image.width}
"""


def test_a_task_that_ends_its_shared_child_fails_alone_and_its_siblings_finish() -> None:
    """Language rules off: the OS jail alone, as a program that got past them would be."""
    with closing(Jail(language_rules=False, tasks_per_child=4)) as jail:
        images = [tracked(c, (50 + i, 24)) for i, c in enumerate(COLORS[:4])]  # [1] is red
        program = unchecked_record(textwrap.dedent(KILLS_ITS_PROCESS), "killer.py", LIMITS)
        outcomes = run_together(jail, program, images)
        assert [o.ok for o in outcomes] == [True, False, True, True]
        assert [o.value for i, o in enumerate(outcomes) if i != 1] == [
            {"width": 50}, {"width": 52}, {"width": 53}]  # fmt: skip
        assert outcomes[1].error_type == ProgramError.__name__
        assert "status 3" in (outcomes[1].error or "")  # its error as if it had been alone
        assert jail._zygote is not None and jail._zygote.children_started == 1 + 4


SPINS_ON_RED = """
import hermod

async def execute_query(image_filename):
    await hermod.call("noop", value=1)
    n = 0
    if image_filename == "scene0.jpg":
        while True:
            n += 1
    return {"n": n}
"""


def test_a_spinning_sibling_costs_the_others_a_rerun_not_their_result() -> None:
    """The spinner holds the shared child's loop until its guard's deadline; the siblings,
    stalled meanwhile, trip theirs too and run again alone: only the spinner fails, with
    the error it gets alone."""
    limits = Limits(wall_s=1, memory_mb=256, cpu_s=30)  # the guard's deadline comes first
    with closing(Jail(tasks_per_child=4)) as jail:
        program = compile_program(textwrap.dedent(SPINS_ON_RED), "spinner.py", limits)
        outcomes = run_together(jail, program, [tracked(c) for c in COLORS[:4]], limits)
        assert [o.value for o in outcomes[1:]] == [{"n": 0}] * 3
    with closing(Jail(tasks_per_child=1)) as alone:
        (spinner,) = run_together(alone, program, [tracked(COLORS[0])], limits)
    assert spinner.error_type == ProgramTimeoutError.__name__
    assert (outcomes[0].error_type, outcomes[0].error) == (spinner.error_type, spinner.error)
