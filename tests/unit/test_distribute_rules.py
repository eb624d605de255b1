"""The compiler's rules, one construct at a time: what it gathers, what it leaves serial
and why; every output is also verified equivalent on the stand-in runtime."""

from __future__ import annotations

import ast
import textwrap

import pytest

from codegen.distribute import distribute
from codegen.verify import verify
from dicec.errors import ProgramError

HEAD = "import asyncio\nimport hermod\nfrom PIL import Image\n\n"
CROP = "image.crop((b['x'], b['y'], b['x'] + b['width'], b['y'] + b['height']))"


def program(body: str, helpers: str = "") -> str:
    return (
        HEAD + textwrap.dedent(helpers) + "\nasync def execute_query(image_filename):\n"
        "    image = Image.open(image_filename)\n" + textwrap.indent(textwrap.dedent(body), "    ")
    )


def compiled(source: str) -> tuple[str, list[str]]:
    result = distribute(source, "p.py")
    report = verify(source, result.source, seeds=6)
    assert report.equivalent, report.summary() + "\n" + result.source
    return result.source, result.notes


def gathers(source: str) -> list[int]:
    """Number of awaitables in each asyncio.gather of the program (a starred one counts 0)."""
    return [
        len([a for a in n.args if not isinstance(a, ast.Starred)])
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Call) and ast.unparse(n.func) == "asyncio.gather"
    ]


def test_independent_calls_are_gathered_dependent_ones_wait() -> None:
    source, _ = compiled(
        program("""
        a = await hermod.call("blip", image=image, question="What is it?")
        b = await hermod.call("xvlm", image=image, object_name="car", property="red")
        c = await hermod.call("blip", image=image, question=f"Is the {a['answer']} red?")
        d = await hermod.call("depth", image=image)
        print(a, b, c, d)
    """)
    )
    assert gathers(source) == [3]  # a, b, d together; c needs a's answer
    assert source.index("asyncio.gather") < source.index('f"Is the')


def test_awaits_inside_expressions_are_lifted_then_gathered() -> None:
    source, _ = compiled(
        program("""
        print((await hermod.call("blip", image=image, question="color?"))["answer"])
        print((await hermod.call("blip", image=image, question="model?"))["answer"])
        ok = (await hermod.call("depth", image=image))["depth"] < 5 or \\
            (await hermod.call("xvlm", image=image, object_name="x", property="y"))["result"]
        return ok
    """)
    )
    assert gathers(source) == [3]  # the call behind `or` runs only when needed
    assert " or (await hermod.call('xvlm'" in source.replace('"', "'")


def test_claims_like_loop_becomes_per_iteration_coroutines() -> None:
    source, notes = compiled(
        program(f"""
        boxes = await hermod.call("glip", image=image, object_name="car")
        for i, b in enumerate(boxes):
            patch = {CROP}
            color = await hermod.call("blip", image=patch, question="color?")
            if not color["answer"]:
                continue
            model = await hermod.call("blip", image=patch, question="model?")
            print(i, color["answer"], model["answer"])
        print("done")
    """)
    )
    assert any("loop iterations gathered" in n for n in notes)
    assert "async def _each_b(i, b)" in source


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            """
        for b in boxes:
            check = await hermod.call("xvlm", image=image, object_name="car", property="red")
            if check["result"]:
                break
    """,
            "early exit",
        ),
        (
            """
        for b in boxes:
            check = await hermod.call("xvlm", image=image, object_name="car", property="red")
            if check["result"]:
                return "found"
    """,
            "early exit",
        ),
        (
            """
        total = 0
        for b in boxes:
            d = await hermod.call("depth", image=image)
            total = total + d["depth"]
        print(total)
    """,
            "carried between iterations",
        ),
        (
            """
        seen = {}
        for b in boxes:
            a = await hermod.call("blip", image=image, question="q?")
            if a["answer"] not in seen:  # (a store alone is replayed in order)
                seen[a["answer"]] = len(seen)
        print(sorted(seen))
    """,
            "mutates `seen`",
        ),
        (
            """
        for b in boxes:
            a = await hermod.call("blip", image=image, question="q?")
        print(a)
    """,
            "used after it",
        ),
        (
            """
        found = []
        for b in found + boxes:
            a = await hermod.call("blip", image=image, question="q?")
            found.append(a["answer"])
        print(found)
    """,
            "mutates `found`",
        ),
        (
            """
        for b in boxes:
            a = await helper_that_prints(image)
    """,
            "other than a pure call",
        ),
    ],
)
def test_unsafe_loops_stay_serial_with_the_reason(body: str, reason: str) -> None:
    helpers = """
        async def helper_that_prints(img):
            a = await hermod.call("blip", image=img, question="q?")
            print(a["answer"])
            return a
    """
    source, notes = compiled(
        program(
            'boxes = await hermod.call("glip", image=image, object_name="car")\n'
            + textwrap.dedent(body),
            helpers,
        )
    )
    assert any("kept serial" in n and reason in n for n in notes), notes
    assert "async def _each" not in source


def test_appends_to_an_outer_list_are_replayed_in_order() -> None:
    source, notes = compiled(
        program(f"""
        boxes = await hermod.call("glip", image=image, object_name="car")
        names = []
        for b in boxes:
            a = await hermod.call("blip", image={CROP}, question="name?")
            names.append(a["answer"])
            names.extend([a["answer"], "-"])
        return names
    """)
    )
    assert any("loop iterations gathered" in n for n in notes)
    assert "names.extend(_names_items)" in source


def test_pure_helpers_are_gathered_and_distributed_inside() -> None:
    source, _ = compiled(
        program(
            """
        a = await describe(image, "color?")
        b = await describe(image, "model?")
        return a + b
    """,
            helpers="""
        async def describe(img, question):
            first = await hermod.call("blip", image=img, question=question)
            second = await hermod.call("xvlm", image=img, object_name="car", property="red")
            return first["answer"] + str(second["result"])
    """,
        )
    )
    assert sorted(gathers(source)) == [2, 2]  # inside the helper and the two helper calls


def test_comprehensions_of_calls_are_gathered() -> None:
    source, _ = compiled(
        program(f"""
        boxes = await hermod.call("glip", image=image, object_name="car")
        answers = [await hermod.call("blip", image={CROP}, question="q?") for b in boxes]
        depths = [(await hermod.call("depth", image={CROP}))["depth"] for b in boxes if b["x"]]
        flags = [b for b in boxes if (await hermod.call("xvlm", image={CROP}, object_name="a",
                                                          property="b"))["result"]]
        return answers, depths, flags
    """)
    )
    assert source.count("asyncio.gather(") >= 3


def test_programs_with_globals_keep_their_loops_serial() -> None:
    source, notes = compiled(
        HEAD
        + textwrap.dedent("""
        count = 0

        async def execute_query(image_filename):
            global count
            image = Image.open(image_filename)
            for q in ["a", "b"]:
                a = await hermod.call("blip", image=image, question=q)
                count = len(a["answer"])
            return count
    """)
    )
    assert any("global" in n for n in notes)


def test_imagepatch_key_functions_gather_their_keys() -> None:
    serial = textwrap.dedent("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            patches = image_patch.find("bottle")
            ordered = sorted(patches, key=lambda p: p.compute_depth(), reverse=True)
            best = max(patches, key=lambda p: len(p.simple_query("What is it?")))
            names = [p.simple_query("name?") for p in ordered]
            if best is None or "x".find("x"):
                return None
            return ", ".join(names) + str(best.left)
    """)
    source, _ = compiled(serial)
    assert "async def execute_command" in source
    assert "compute_depth_async()) for p in patches" in source  # in _call_outcome(...)
    assert '"x".find("x")' in source  # a string's find is not a model call


def test_imagepatch_short_circuit_generators_stay_serial() -> None:
    serial = textwrap.dedent("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            patches = image_patch.find("cat")
            return any(p.verify_property("cat", "black") for p in patches)
    """)
    result = distribute(serial, "cats.py")
    assert "kept serial" in result.source and "may stop early" in result.source
    assert "def execute_command(image):" in result.source  # unchanged, still sync
    assert verify(serial, result.source, seeds=4).equivalent


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def execute_query(image_filename)\n    pass\n", "does not parse"),
        ("async def main():\n    pass\n", "no entry point"),
    ],
)
def test_bad_programs_are_refused_clearly(source: str, message: str) -> None:
    with pytest.raises(ProgramError, match=message):
        distribute(source, "bad.py")
