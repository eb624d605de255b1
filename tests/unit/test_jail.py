"""The jailed runner: a task's program in its own process, its calls over a socket."""

from __future__ import annotations

import asyncio
import os
import textwrap
import time
from collections.abc import Iterator

import psutil
import pytest
from PIL import Image

from dicec.errors import ProgramResourceError, ProgramTimeoutError
from orchestrator.batch.task import run_task
from orchestrator.program.jail.client import Jail
from orchestrator.program.jail.unchecked import unchecked_record
from orchestrator.program.sandbox.programs import Limits, compile_program
from tests.support.answers import AnsweringBackend
from worker_models.imageref import ImageRef, TrackedImage, digest_of, encode_png

LIMITS = Limits(wall_s=5, memory_mb=256)


def tracked(color: str = "white") -> TrackedImage:
    image = Image.new("RGB", (32, 24), color)
    return TrackedImage.wrap(image, ImageRef(digest_of(encode_png(image))))


@pytest.fixture(scope="module")
def jail() -> Iterator[Jail]:
    jail = Jail()
    yield jail
    jail.close()


@pytest.fixture(scope="module")
def open_jail() -> Iterator[Jail]:
    """Language rules off: only the OS jail holds."""
    jail = Jail(language_rules=False)
    yield jail
    jail.close()


def run(jail: Jail, source: str, limits: Limits = LIMITS, max_calls: int | None = None, **kw):
    source = textwrap.dedent(source)
    if jail.language_rules:
        program = compile_program(source, "prog.py", limits)
    else:
        program = unchecked_record(source, "prog.py", limits)
    image = kw.pop("image", None) or tracked()
    backend = AnsweringBackend()

    async def main():
        return await run_task(
            program, "scene.jpg", _loader(image), backend,
            limits=limits, jail=jail, max_calls=max_calls, task_index=7,
        )  # fmt: skip

    return asyncio.run(main()), backend


def _loader(image: TrackedImage):
    async def load() -> TrackedImage:
        return image

    return load


CLAIMS_LIKE = """
import asyncio
import hermod
from PIL import Image

async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    crops = [image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]))
             for b in boxes]
    answers = await asyncio.gather(*[hermod.call("blip", image=c, question="color?")
                                     for c in crops])
    made = Image.new("RGB", (4, 4), "red")
    echo = await hermod.call("noop", image=made, value=[1, 2])
    print(f"{len(boxes)} car(s)")
    return {"colors": [a["answer"] for a in answers], "echo": echo["value"], "size": image.size}
"""


def test_program_runs_in_the_jail_with_its_calls_served_here(jail: Jail) -> None:
    outcome, backend = run(jail, CLAIMS_LIKE)
    assert outcome.ok, outcome.error
    assert outcome.value == {"colors": ["red"], "echo": [1, 2], "size": [32, 24]}
    assert outcome.printed == ["1 car(s)"]
    assert outcome.calls == 3
    glip, blip, noop = backend.seen
    assert glip.params["image"].startswith("img:") and "@" not in glip.params["image"]
    assert blip.params["image"].endswith("@1,1,5,5")  # the crop travels as a reference
    assert len(noop.uploads) == 1  # the image the program made is uploaded, verified


def test_a_failed_call_raises_in_the_program(jail: Jail) -> None:
    outcome, _ = run(jail, """
        import hermod
        async def execute_query(image_filename):
            try:
                await hermod.call("glip", object_name=3)
            except Exception as exc:
                return str(exc)
        """)  # fmt: skip
    assert outcome.ok and "glip" in outcome.value and "object_name" in outcome.value


def test_an_image_reference_of_another_task_is_refused(jail: Jail) -> None:
    other = "img:" + "ab" * 32
    outcome, backend = run(jail, f"""
        import hermod
        async def execute_query(image_filename):
            await hermod.call("blip", image="{other}", question="what?")
        """)  # fmt: skip
    assert not outcome.ok
    assert "not this task's" in outcome.error
    assert backend.seen == []


def test_the_call_budget_fails_the_task_even_if_the_program_catches_it(jail: Jail) -> None:
    outcome, backend = run(jail, """
        import hermod
        async def execute_query(image_filename):
            for i in range(50):
                try:
                    await hermod.call("noop", value=i)
                except Exception:
                    pass
            return "swallowed"
        """, max_calls=10)  # fmt: skip
    assert not outcome.ok
    assert outcome.error_type == "ProgramResourceError"
    assert "budget of 10" in outcome.error
    assert len(backend.seen) == 10


def test_the_call_budget_holds_in_process_too() -> None:
    program = compile_program("import hermod\nasync def execute_query(f):\n"
                              "    for i in range(20):\n        try:\n"
                              "            await hermod.call('noop', value=i)\n"
                              "        except Exception:\n            pass\n", "p.py")  # fmt: skip
    backend = AnsweringBackend()
    outcome = asyncio.run(run_task(program, "x.jpg", _loader(tracked()), backend, max_calls=5))
    assert not outcome.ok and "budget of 5" in (outcome.error or "")
    assert len(backend.seen) == 5


def test_the_parent_kills_a_program_at_its_deadline(open_jail: Jail) -> None:
    limits = Limits(wall_s=1, memory_mb=256)
    outcome, _ = run(open_jail, """
        import time
        def execute_command(image):
            while True:
                try:
                    time.sleep(10)
                finally:
                    time.sleep(10)
        """, limits=limits)  # fmt: skip
    assert outcome.error_type == ProgramTimeoutError.__name__
    assert "killed" in outcome.error
    assert outcome.finished_at - outcome.started_at < 10


def test_the_environment_and_descriptors_are_scrubbed(open_jail: Jail) -> None:
    os.environ["DICEC_TEST_SECRET"] = "s3cret"
    outcome, _ = run(
        open_jail,
        """
        import os
        def is_open(fd):
            try:
                os.fstat(fd)
            except OSError:
                return False
            return True
        def execute_command(image):
            return {"env": dict(os.environ), "fds": [fd for fd in range(64) if is_open(fd)],
                    "uid": os.getuid()}
        """,
    )  # fmt: skip  (fstat, not /proc/self/fd: Landlock closes /proc to the child)
    assert outcome.ok, outcome.error
    env = outcome.value["env"]
    assert "DICEC_TEST_SECRET" not in env and "REDIS_URL" not in env
    assert set(env) <= {"PATH", "LANG", "HOME", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
    assert len(outcome.value["fds"]) <= 8  # stdio, the task socket, the event loop's own
    if os.geteuid() == 0:
        assert outcome.value["uid"] != 0


def test_a_dead_zygote_is_replaced(jail: Jail) -> None:
    assert run(jail, CLAIMS_LIKE)[0].ok
    zygote = jail._zygote
    assert zygote is not None
    zygote.proc.kill()
    zygote.proc.wait()
    outcome, _ = run(jail, CLAIMS_LIKE)
    assert outcome.ok, outcome.error
    assert jail._zygote is not zygote


def test_a_killed_zygote_takes_its_children_with_it() -> None:
    """Even a child blocked in C (rules off: time.sleep on its main thread) dies with its
    zygote: it was born unprivileged, so no credential change cleared its parent-death
    signal (a child that dropped root itself used to outlive a SIGKILLed zygote)."""
    jail = Jail(language_rules=False)
    limits = Limits(wall_s=30, memory_mb=256)
    program = unchecked_record("import time\ndef execute_command(image):\n    time.sleep(60)\n",
                               "sleeper.py", limits)  # fmt: skip

    async def main() -> list[psutil.Process]:
        task = asyncio.ensure_future(
            run_task(
                program,
                "scene.jpg",
                _loader(tracked()),
                AnsweringBackend(),
                limits=limits,
                jail=jail,
                task_index=1,
            )  # fmt: skip
        )
        deadline = time.monotonic() + 10
        while (pid := jail.pid_of("1")) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert pid is not None, "the child never started"
        child = psutil.Process(pid)
        jail._zygote.proc.kill()  # type: ignore[union-attr]
        gone, _ = await asyncio.to_thread(psutil.wait_procs, [child], 5)
        task.cancel()
        return gone

    try:
        assert asyncio.run(main()), "the child outlived its zygote"
    finally:
        jail.close()


def test_resource_errors_name_the_limit(open_jail: Jail) -> None:
    outcome, _ = run(open_jail, """
        def execute_command(image):
            hoard = []
            while True:
                hoard.append(bytearray(50 * 1024 * 1024))
        """, limits=Limits(wall_s=20, memory_mb=128))  # fmt: skip
    assert not outcome.ok
    assert outcome.error_type == ProgramResourceError.__name__
    assert "out of memory" in outcome.error


def test_the_zygote_keeps_images_within_its_byte_budget(monkeypatch):
    """Every MiB the zygote holds costs each fork: past the budget the least recently
    used images are forgotten, and a forgotten image is sent again when a task needs it."""
    from orchestrator.program.jail import client

    one_image = 32 * 24 * 3
    monkeypatch.setattr(client, "IMAGES_KEPT_BYTES", 2 * one_image)
    jail = Jail()
    try:
        source = """
        from PIL import Image

        def execute_command(image):
            return image.getpixel((0, 0))
        """
        colors = {"red": [255, 0, 0], "green": [0, 128, 0], "blue": [0, 0, 255]}
        for color, pixel in [*colors.items(), ("red", colors["red"])]:
            outcome, _ = run(jail, source, image=tracked(color))
            assert outcome.ok, outcome.error
            assert outcome.value == pixel
            kept = jail._zygote.images
            assert len(kept) <= 2 and sum(kept.values()) <= 2 * one_image
        assert tracked("red").dicec_ref.digest in jail._zygote.images  # sent again
    finally:
        jail.close()


@pytest.mark.parametrize("kind", ["ValueError", "TypeError"])
def test_a_programs_own_error_keeps_its_type_and_message(jail: Jail, kind: str) -> None:
    # These two are also what json raises on a result it cannot carry: they must not be
    # mistaken for that.
    outcome, _ = run(
        jail,
        f"""
        async def execute_query(image_filename):
            raise {kind}("no car in " + image_filename)
        """,
    )
    assert not outcome.ok
    assert outcome.error_type == kind and outcome.error.startswith("no car in scene.jpg")


def test_each_task_starts_a_pristine_copy_of_its_programs_prepared_run(jail: Jail) -> None:
    """The zygote prepares one run per program and never runs it: what a task leaves in
    its namespace, output or random generator is gone for the next task of the program."""
    source = """
        import random

        def execute_command(image):
            global runs
            try:
                runs += 1
            except NameError:
                runs = 1
            print(f"run {runs}")
            return {"runs": runs, "draw": random.random()}
        """
    program = compile_program(textwrap.dedent(source), "prepared.py", LIMITS)
    image = tracked()

    async def main():
        return [
            await run_task(
                program,
                "scene.jpg",
                _loader(image),
                AnsweringBackend(),
                limits=LIMITS,
                jail=jail,
                task_index=i,
            )  # fmt: skip
            for i in range(3)
        ]

    outcomes = asyncio.run(main())
    assert [o.value["runs"] for o in outcomes] == [1, 1, 1], [o.error for o in outcomes]
    assert [o.printed for o in outcomes] == [["run 1"]] * 3
    assert len({o.value["draw"] for o in outcomes}) == 3  # each child reseeds from the OS
