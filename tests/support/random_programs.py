"""Random serial hermod programs for property-based tests of the distributing compiler.

Programs mix what real generated programs do: detections and loops over them, calls that
depend on earlier answers, branches on results, early exits (return / break / continue),
accumulators carried between iterations, appends to outer lists, shared dict updates,
helpers (pure and printing), prints everywhere, indexing a detection list (IndexError when
it is empty), calls guarded by try/except reading the error, running totals and dict
stores in loops, a module-level counter (`global`). They are correct Python by
construction; some fail at run time (as real programs do), which the comparison covers,
as it covers empty results and failing calls (the verifier's stand-in injects both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

QUESTIONS = ("What is this?", "What color is it?", "Is it damaged?")
OBJECTS = ("car", "person", "dog")
PROPERTIES = ("damaged", "red", "open")
HELPERS = """
async def describe(patch, question):
    answer = await hermod.call("blip", image=patch, question=question)
    return answer["answer"]


async def shout(patch):
    answer = await hermod.call("blip", image=patch, question="Say something.")
    print("helper says", answer["answer"])
    return answer["answer"].upper()
"""


@dataclass
class Scope:
    images: list[str] = field(default_factory=lambda: ["image"])
    texts: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    depths: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)
    in_loop: bool = False
    prelude: str = ""  # what the innermost loop set up: carry, list, dict or none

    def copy(self) -> Scope:
        return Scope(
            list(self.images),
            list(self.texts),
            list(self.flags),
            list(self.depths),
            list(self.boxes),
            self.in_loop,
            self.prelude,
        )


class ProgramBuilder:
    """Draws one program from hypothesis `data`."""

    def __init__(self, data: st.DataObject, max_depth: int = 2) -> None:
        self.data = data
        self.max_depth = max_depth
        self.counter = 0
        self.lines: list[str] = []

    def draw(self, strategy: st.SearchStrategy) -> object:
        return self.data.draw(strategy)

    def choice(self, options: list | tuple) -> object:
        return self.draw(st.sampled_from(list(options)))

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}{self.counter}"

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def build(self) -> str:
        self.lines = []
        scope = Scope()
        self.uses_global = bool(self.draw(st.booleans()))
        if self.uses_global:
            self.emit(1, "global calls_made")
        self.emit(1, "image = Image.open(image_filename)")
        self.block(1, scope, depth=0, size=self.draw(st.integers(2, 7)))
        if self.draw(st.booleans()):
            self.emit(1, f"return {self.value_expr(scope)}")
        head = "import asyncio\nimport hermod\nfrom PIL import Image\n" + HELPERS
        if self.uses_global:
            head += "\n\ncalls_made = 0\n"
        return (
            head + "\n\nasync def execute_query(image_filename):\n" + "\n".join(self.lines) + "\n"
        )

    # -- expressions ------------------------------------------------------------------------
    def value_expr(self, scope: Scope) -> str:
        options = ["'done'"] + scope.texts + [f"{d}['depth']" for d in scope.depths]
        options += [f"len({b})" for b in scope.boxes]
        return str(self.choice(options))

    def question(self, scope: Scope) -> str:
        if scope.texts and self.draw(st.booleans()):
            return f'f"Is it {{{self.choice(scope.texts)}}}?"'  # depends on an earlier answer
        return repr(self.choice(QUESTIONS))

    # -- statements -------------------------------------------------------------------------
    def block(self, indent: int, scope: Scope, depth: int, size: int) -> None:
        before = len(self.lines)
        for _ in range(size):
            self.statement(indent, scope, depth)
        if len(self.lines) == before:
            self._print(indent, scope, depth)

    def statement(self, indent: int, scope: Scope, depth: int) -> None:
        kinds = [
            "blip",
            "blip",
            "xvlm",
            "depth",
            "glip",
            "print",
            "helper",
            "inline",
            "comprehension",
            "index",
            "guarded",
        ]
        if getattr(self, "uses_global", False):
            kinds.append("bump")
        if depth < self.max_depth:
            kinds += ["loop", "loop", "branch"]
        if scope.in_loop:
            kinds += ["exit_loop", "continue", "carry", "append", "shared", "risky"]
            kinds += ["accumulate", "store"]
        else:
            kinds += ["early_return"]
        getattr(self, f"_{self.choice(kinds)}")(indent, scope, depth)

    def _blip(self, indent: int, scope: Scope, depth: int) -> None:
        raw, text = self.fresh("answer"), self.fresh("text")
        image = self.choice(scope.images)
        self.emit(
            indent,
            f"{raw} = await hermod.call('blip', image={image}, question={self.question(scope)})",
        )
        self.emit(indent, f"{text} = {raw}['answer']")
        scope.texts.append(text)

    def _xvlm(self, indent: int, scope: Scope, depth: int) -> None:
        name = self.fresh("check")
        self.emit(
            indent,
            f"{name} = await hermod.call('xvlm', image={self.choice(scope.images)}, "
            f"object_name={self.choice(OBJECTS)!r}, "
            f"property={self.choice(PROPERTIES)!r})",
        )
        scope.flags.append(name)

    def _depth(self, indent: int, scope: Scope, depth: int) -> None:
        name = self.fresh("depth")
        self.emit(indent, f"{name} = await hermod.call('depth', image={self.choice(scope.images)})")
        scope.depths.append(name)

    def _glip(self, indent: int, scope: Scope, depth: int) -> None:
        name = self.fresh("boxes")
        self.emit(
            indent,
            f"{name} = await hermod.call('glip', image={self.choice(scope.images)}, "
            f"object_name={self.choice(OBJECTS)!r})",
        )
        scope.boxes.append(name)

    def _print(self, indent: int, scope: Scope, depth: int) -> None:
        self.emit(indent, f"print('value:', {self.value_expr(scope)})")

    def _helper(self, indent: int, scope: Scope, depth: int) -> None:
        name = self.fresh("said")
        image = self.choice(scope.images)
        if self.draw(st.booleans()):
            self.emit(indent, f"{name} = await describe({image}, {self.question(scope)})")
        else:
            self.emit(indent, f"{name} = await shout({image})")
        scope.texts.append(name)

    def _loop(self, indent: int, scope: Scope, depth: int) -> None:
        if not scope.boxes:
            self._glip(indent, scope, depth)
        boxes = self.choice(scope.boxes)
        index, box, crop = self.fresh("i"), self.fresh("box"), self.fresh("crop")
        prelude = self.draw(st.sampled_from(["none", "carry", "list", "dict"]))
        if prelude == "carry":
            self.emit(indent, "total = 0")
        elif prelude == "list":
            self.emit(indent, "found = []")
        elif prelude == "dict":
            self.emit(indent, "seen = {}")
        self.emit(indent, f"for {index}, {box} in enumerate({boxes}):")
        self.emit(
            indent + 1,
            f"{crop} = image.crop(({box}['x'], {box}['y'], {box}['x'] + "
            f"{box}['width'], {box}['y'] + {box}['height']))",
        )
        inner = scope.copy()
        inner.images.append(crop)
        inner.in_loop = True
        inner.prelude = prelude
        self.block(indent + 1, inner, depth + 1, self.draw(st.integers(1, 4)))
        self.emit(indent + 1, f"print('item', {index}, {self.value_expr(inner)})")
        if prelude == "carry":
            self.emit(indent, "print('total', total)")
        elif prelude == "list":
            self.emit(indent, "print('found', found)")
        elif prelude == "dict":
            self.emit(indent, "print('seen', sorted(seen.items()))")
        if self.draw(st.integers(0, 4)) == 0:
            self.emit(indent, f"print('last', {index})")  # a loop variable used after the loop

    def _branch(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.flags and self.draw(st.booleans()):
            test = f"{self.choice(scope.flags)}['result']"
        elif scope.depths:
            test = f"{self.choice(scope.depths)}['depth'] < 5"
        else:
            test = f"len({self.choice(scope.boxes)}) > 1" if scope.boxes else "True"
        self.emit(indent, f"if {test}:")
        self.block(indent + 1, scope.copy(), depth + 1, self.draw(st.integers(1, 3)))
        self.emit(indent, "else:")
        self.block(indent + 1, scope.copy(), depth + 1, self.draw(st.integers(1, 2)))

    def _early_return(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.boxes:
            self.emit(indent, f"if not {self.choice(scope.boxes)}:")
            self.emit(indent + 1, "print('nothing found')")
            self.emit(indent + 1, "return 'none'")

    def _exit_loop(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.flags:
            self.emit(indent, f"if {self.choice(scope.flags)}['result']:")
            self.emit(indent + 1, self.choice(["break", "return 'stopped'"]))

    def _continue(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.flags:
            self.emit(indent, f"if not {self.choice(scope.flags)}['result']:")
            self.emit(indent + 1, "continue")

    def _carry(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.prelude == "carry" and scope.depths:
            self.emit(indent, f"total = total + {self.choice(scope.depths)}['depth']")

    def _append(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.prelude == "list":
            self.emit(indent, f"found.append({self.value_expr(scope)})")

    def _shared(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.prelude == "dict" and scope.texts:
            text = self.choice(scope.texts)
            self.emit(indent, f"seen[{text}] = seen.get({text}, 0) + 1")

    def _risky(self, indent: int, scope: Scope, depth: int) -> None:
        """Fails at run time when a detection came back empty (as careless programs do)."""
        if scope.boxes:
            self.emit(indent, f"print('share', 10 // len({self.choice(scope.boxes)}))")

    def _index(self, indent: int, scope: Scope, depth: int) -> None:
        """The first detection, cropped: IndexError when nothing was found."""
        if not scope.boxes:
            return
        pick, crop = self.fresh("pick"), self.fresh("first")
        self.emit(indent, f"{pick} = {self.choice(scope.boxes)}[0]")
        self.emit(
            indent,
            f"{crop} = image.crop(({pick}['x'], {pick}['y'], {pick}['x'] + "
            f"{pick}['width'], {pick}['y'] + {pick}['height']))",
        )
        scope.images.append(crop)

    def _guarded(self, indent: int, scope: Scope, depth: int) -> None:
        """A call whose failure the program catches, reading the error."""
        raw, text, error = self.fresh("raw"), self.fresh("safe"), self.fresh("error")
        image = self.choice(scope.images)
        self.emit(indent, "try:")
        self.emit(
            indent + 1,
            f"{raw} = await hermod.call('blip', image={image}, question={self.question(scope)})",
        )
        self.emit(indent + 1, f"{text} = {raw}['answer']")
        self.emit(indent, f"except Exception as {error}:")
        self.emit(indent + 1, f"{text} = f'failed: {{{error}}}'")
        scope.texts.append(text)

    def _bump(self, indent: int, scope: Scope, depth: int) -> None:
        self.emit(indent, "calls_made += 1")

    def _accumulate(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.prelude == "carry" and scope.depths:
            self.emit(indent, f"total += {self.choice(scope.depths)}['depth']")
        elif scope.prelude == "carry" and scope.flags:
            self.emit(indent, f"if {self.choice(scope.flags)}['result']:")
            self.emit(indent + 1, "total += 1")

    def _store(self, indent: int, scope: Scope, depth: int) -> None:
        if scope.prelude == "dict" and scope.texts:
            self.emit(indent, f"seen[{self.choice(scope.texts)}] = {self.value_expr(scope)}")

    def _inline(self, indent: int, scope: Scope, depth: int) -> None:
        """An await inside an expression (the compiler lifts it out)."""
        image = self.choice(scope.images)
        self.emit(
            indent,
            f"print('inline', (await hermod.call('blip', image={image}, "
            f"question={self.question(scope)}))['answer'])",
        )

    def _comprehension(self, indent: int, scope: Scope, depth: int) -> None:
        if not scope.boxes:
            return
        boxes, name = self.choice(scope.boxes), self.fresh("values")
        crop = "image.crop((b['x'], b['y'], b['x'] + b['width'], b['y'] + b['height']))"
        call = (
            f"(await hermod.call('xvlm', image={crop}, object_name='car', "
            f"property={self.choice(PROPERTIES)!r}))['result']"
        )
        form = self.choice(["element", "filtered", "filter"])
        if form == "element":
            self.emit(indent, f"{name} = [{call} for b in {boxes}]")
        elif form == "filtered":
            self.emit(indent, f"{name} = [{call} for b in {boxes} if b['width'] > 10]")
        else:
            self.emit(indent, f"{name} = [b['x'] for b in {boxes} if {call}]")
        self.emit(indent, f"print('values', {name})")


IMAGEPATCH_HELPERS = """
def describe(patch):
    return patch.simple_query("What is it?") + "!"
"""


class ImagePatchProgramBuilder:
    """Draws a synchronous ViperGPT-style program (the compiler makes it async)."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.counter = 0
        self.lines: list[str] = []

    def choice(self, options: list | tuple) -> object:
        return self.data.draw(st.sampled_from(list(options)))

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}{self.counter}"

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def build(self) -> str:
        self.emit(1, "image_patch = ImagePatch(image)")
        self.emit(1, "patches = image_patch.find('bottle')")
        scope = {"patch": ["image_patch"], "list": ["patches"], "value": ["'none'"]}
        for _ in range(self.data.draw(st.integers(2, 6))):
            self.statement(1, scope, 0)
        self.emit(1, f"return {self.choice(scope['value'])}")
        return (
            IMAGEPATCH_HELPERS + "\n\ndef execute_command(image):\n" + "\n".join(self.lines) + "\n"
        )

    def statement(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        kinds = ["find", "query", "verify", "depth", "key", "comprehension", "helper", "print"]
        if depth < 2:
            kinds += ["loop", "branch"]
        getattr(self, f"_{self.choice(kinds)}")(indent, scope, depth)

    def _find(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        name = self.fresh("found")
        self.emit(indent, f"{name} = {self.choice(scope['patch'])}.find({self.choice(OBJECTS)!r})")
        scope["list"].append(name)

    def _query(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        name = self.fresh("answer")
        self.emit(
            indent,
            f"{name} = {self.choice(scope['patch'])}.simple_query({self.choice(QUESTIONS)!r})",
        )
        scope["value"].append(name)

    def _verify(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        name = self.fresh("flag")
        method = self.choice(["verify_property('bottle', 'red')", "exists('cap')"])
        self.emit(indent, f"{name} = {self.choice(scope['patch'])}.{method}")
        scope["value"].append(name)

    def _depth(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        name = self.fresh("depth")
        self.emit(indent, f"{name} = {self.choice(scope['patch'])}.compute_depth()")
        scope["value"].append(name)

    def _key(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        patches, name = self.choice(scope["list"]), self.fresh("chosen")
        key = self.choice(["p.compute_depth()", "len(p.simple_query('What is it?'))"])
        how = self.choice(["min", "max", "sorted"])
        if how == "sorted":
            self.emit(indent, f"{name} = sorted({patches}, key=lambda p: {key})")
            scope["list"].append(name)
            return
        self.emit(indent, f"if {patches}:")
        self.emit(indent + 1, f"{name} = {how}({patches}, key=lambda p: {key})")
        self.emit(indent + 1, f"print('chosen', {name}.simple_query('What is it?'))")

    def _comprehension(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        patches, name = self.choice(scope["list"]), self.fresh("listed")
        form = self.choice(
            [
                "[p.simple_query('Color?') for p in {ps}]",
                "[p for p in {ps} if p.verify_property('bottle', 'open')]",
                "[p.compute_depth() + 1 for p in {ps}]",
            ]
        )
        self.emit(indent, f"{name} = {form.format(ps=patches)}")
        self.emit(indent, f"print('listed', len({name}))")

    def _helper(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        name = self.fresh("described")
        self.emit(indent, f"{name} = describe({self.choice(scope['patch'])})")
        scope["value"].append(name)

    def _print(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        self.emit(indent, f"print('value', {self.choice(scope['value'])})")

    def _loop(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        patch = self.fresh("patch")
        self.emit(indent, f"for {patch} in {self.choice(scope['list'])}:")
        inner = {k: list(v) for k, v in scope.items()}
        inner["patch"].append(patch)
        for _ in range(self.data.draw(st.integers(1, 3))):
            self.statement(indent + 1, inner, depth + 1)
        self.emit(indent + 1, f"print('patch', {patch}.left, {self.choice(inner['value'])})")

    def _branch(self, indent: int, scope: dict[str, list[str]], depth: int) -> None:
        self.emit(indent, f"if {self.choice(scope['value'])}:")
        for _ in range(self.data.draw(st.integers(1, 2))):
            self.statement(indent + 1, {k: list(v) for k, v in scope.items()}, depth + 1)
        self.emit(indent, "else:")
        self.emit(indent + 1, "print('no')")
