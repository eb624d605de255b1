"""The prompts: the program contract, the functions as the registry exposes them, an example.

Function documentation and JSON schemas come from the runtime registry (what the running
pools published), never from a list written here.
"""

from __future__ import annotations

import json

from orchestrator.program.sandbox.programs import ALLOWED_IMPORTS
from worker_models.registry import FunctionInfo

CONTRACT = """\
You write Python programs that answer a question about one image by calling vision
functions that run as remote services.

The program contract:
- Define `async def execute_query(image_filename)`. It opens the image with
  `image = Image.open(image_filename)` (`from PIL import Image`).
- Call a function with `await hermod.call("<function name>", <parameter>=<value>, ...)`
  after `import hermod`. Pass every parameter by keyword. Image parameters take a PIL
  image, e.g. `image` or a crop `image.crop((x0, y0, x1, y1))`.
- Use only the functions listed below, only their parameters, and their results as the
  result schema describes them.
- Report the answer by printing lines with print() and/or returning a value.
- Allowed imports (nothing else): {imports}.
- No files or network, no eval/exec/getattr/open, no attributes starting with "_", no
  names starting with "__", no str.format (use f-strings).
- Write it serially: await one call after the other. Do not use asyncio.gather.
- Answer with exactly one ```python code block holding the whole program.""".format(
    imports=", ".join(sorted(ALLOWED_IMPORTS | {"PIL.Image"}))
)

EXAMPLE_QUERY = (
    "In the accident scene, report the color and model of all the cars involved "
    "and check if the cars are damaged or overturned."
)
EXAMPLE_PROGRAM = """\
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    cars = await hermod.call("glip", image=image, object_name="car")
    if not cars:
        print("No cars detected in the image.")
        return
    for i, car in enumerate(cars):
        car_patch = image.crop((car["x"], car["y"], car["x"] + car["width"],
                                car["y"] + car["height"]))
        color = await hermod.call("blip", image=car_patch,
                                  question="What is the color of the car?")
        model = await hermod.call("blip", image=car_patch,
                                  question="What is the model of the car?")
        damaged = await hermod.call("xvlm", image=car_patch, object_name="car",
                                    property="damaged")
        overturned = await hermod.call("xvlm", image=car_patch, object_name="car",
                                       property="overturned")
        print(f"Car {i + 1}: Color - {color['answer']}, Model - {model['answer']}, "
              f"Damaged - {damaged['result']}, Overturned - {overturned['result']}")
"""

REWRITE_INSTRUCTIONS = """\
Rewrite the serial program below so that calls that do not depend on each other run at
the same time with asyncio.gather (for example, the per-object calls of a loop for all
objects at once). Keep exactly the same calls (same functions, same arguments, as many),
the same printed lines in the same order and the same return value. Keep the entry
point's name and parameters. Answer with exactly one ```python code block."""


def describe_functions(functions: list[FunctionInfo]) -> str:
    """Each function's documentation and JSON schemas, as the registry exposes them."""
    parts = []
    for info in sorted(functions, key=lambda f: f.name):
        receives = (
            f"The program receives the result's {info.unwrap!r} field directly."
            if info.unwrap
            else "The program receives the result object (a dict)."
        )
        parts.append(
            f"### {info.name}\n{info.documentation}\n"
            f"Parameters (JSON schema): {json.dumps(info.parameters_schema, sort_keys=True)}\n"
            f"Result (JSON schema): {json.dumps(info.result_schema, sort_keys=True)}\n"
            f"{receives}"
        )
    return "\n\n".join(parts)


def generate_messages(query: str, functions: list[FunctionInfo]) -> list[dict[str, str]]:
    system = f"{CONTRACT}\n\n## Functions\n\n{describe_functions(functions)}"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Query: {EXAMPLE_QUERY}"},
        {"role": "assistant", "content": f"```python\n{EXAMPLE_PROGRAM}```"},
        {"role": "user", "content": f"Query: {query}"},
    ]


def repair_message(problems: list[str]) -> dict[str, str]:
    listed = "\n".join(f"- {p}" for p in problems)
    return {
        "role": "user",
        "content": (
            f"The program is not valid:\n{listed}\nFix these problems and answer with the whole "
            "corrected program in one ```python code block."
        ),
    }


def rewrite_messages(serial: str, functions: list[FunctionInfo]) -> list[dict[str, str]]:
    system = f"{CONTRACT}\n\n## Functions\n\n{describe_functions(functions)}"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"{REWRITE_INSTRUCTIONS}\n\n```python\n{serial}```"},
    ]
