"""Issue 15's wrong rewrite: `people = find(...)`, `people[0]`, then a query on another
patch. The query must not move above the indexing (on an image with no person the serial
program makes one call and raises IndexError), and the verifier must see the wrong form."""

from __future__ import annotations

import ast
from pathlib import Path

from codegen.distribute import distribute
from codegen.verify import verify

PROGRAM = Path(__file__).resolve().parents[1] / "data" / "codegen" / "people_index_then_query.py"
WRONG = """
import asyncio


async def execute_command(image):
    image_patch = ImagePatch(image)
    people, answer = await asyncio.gather(
        image_patch.find_async("person"), image_patch.simple_query_async("Is it sunny?")
    )
    person = people[0]
    wearing = await person.simple_query_async("What is the person wearing?")
    return wearing + answer
"""


def _order(source: str) -> list[str]:
    """Statements of the entry point, as text."""
    tree = ast.parse(source)
    func = next(n for n in tree.body if getattr(n, "name", "") == "execute_command")
    return [ast.unparse(s) for s in func.body]


def test_the_query_stays_below_the_indexing_and_joins_the_next_call() -> None:
    serial = PROGRAM.read_text()
    result = distribute(serial, PROGRAM.name)
    body = _order(result.source)
    index = next(i for i, s in enumerate(body) if s == "person = people[0]")
    sunny = next(i for i, s in enumerate(body) if "Is it sunny?" in s)
    assert sunny > index
    assert "wearing" in body[sunny]  # gathered with the person's query: 2 rounds, not 3
    assert any("held back by line 4 `person = people[0]`" in n for n in result.notes)
    report = verify(serial, result.source)
    assert report.equivalent, report.summary()
    assert report.rounds_distributed == 2


def test_the_wrong_rewrite_is_rejected_with_the_extra_call() -> None:
    report = verify(PROGRAM.read_text(), WRONG)
    assert not report.equivalent
    assert any("only made by distributed" in r and "Is it sunny?" in r for r in report.reasons)


def test_a_failing_call_is_raised_where_the_serial_program_meets_it() -> None:
    """Gathered calls' failures come back in program order, after the same prints."""
    serial = """
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    print("start")
    a = await hermod.call("blip", image=image, question="a?")
    print("between", a["answer"])
    b = await hermod.call("xvlm", image=image, object_name="car", property="red")
    print("end")
    return b["result"]
"""
    result = distribute(serial, "p.py")
    assert result.gathers == 1
    report = verify(serial, result.source, seeds=9)
    assert report.equivalent, report.summary()
    assert any(c.serial_error and "CallFailedError" in c.serial_error for c in report.cases)
