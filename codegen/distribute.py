"""The deterministic compiler: serial program -> distributed program.

Passes, per async function (ImagePatch programs are first made async by awaitify):
comprehension gathers -> await lifting -> (bottom-up, per block) loops into gathered
per-iteration coroutines -> independent call statements into one gather. Every pass only
moves calls whose independence the dataflow analysis proves; everything else stays as
written, and the notes say why.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from codegen.astutil import ENTRY_POINTS, NameAllocator, all_names, entry_point, module_functions
from codegen.awaitify import Unsupported, awaitify, uses_sync_image_patch
from codegen.dataflow import Purity, effects, free_names
from codegen.gather import (
    OUTCOME,
    SETTLE_SOURCE,
    SETTLED,
    SETTLED_ALL,
    ComprehensionGatherer,
    schedule_block,
)
from codegen.lift import lift_block
from codegen.liveness import certainly_assigned, fresh_locals
from codegen.loops import DEFERRED_PRINT_SOURCE, LoopContext, Serial, parallelize_loop
from codegen.safety import TypeEnv, build_env, non_raising_helpers
from dicec.errors import ProgramError
from worker_models.registry import FunctionInfo, catalogue_functions

HEADER = (
    "# Distributed form of {name}\n"
    "# made by `dicec codegen distribute` (deterministic compiler). Independent calls run\n"
    "# together with asyncio.gather; the calls made and the printed output are those of the\n"
    "# serial program, in the same order.\n"
)
FORMAT_TIMEOUT_S = 10.0
LINE_LENGTH = 100


@dataclass
class DistributeResult:
    source: str
    style: str  # "hermod" or "imagepatch"
    gathers: int = 0
    parallel_loops: int = 0
    notes: list[str] = field(default_factory=list)


def parse_program(source: str, filename: str = "<program>") -> ast.Module:
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise ProgramError(f"{filename}:{exc.lineno}: does not parse: {exc.msg}") from None
    if entry_point(tree) is None:
        raise ProgramError(f"{filename}: no entry point; define one of {', '.join(ENTRY_POINTS)}")
    return tree


def distribute(
    source: str, filename: str = "<program>", functions: list[FunctionInfo] | None = None
) -> DistributeResult:
    """Compile a serial program into its distributed form (no verification here).
    `functions`: the catalogue whose result schemas type the calls (default: shipped)."""
    tree = parse_program(source, filename)
    style = "hermod"
    notes: list[str] = []
    if uses_sync_image_patch(tree):
        style = "imagepatch"
        try:
            notes += awaitify(tree)
        except Unsupported as exc:
            return _unchanged(source, filename, style, f"kept serial: {exc}")
    compiler = _Compiler(tree, functions if functions is not None else catalogue_functions())
    compiler.run()
    result = DistributeResult(
        source=_render(tree, filename, compiler, notes),
        style=style,
        gathers=compiler.gathers,
        parallel_loops=compiler.loops,
        notes=notes + compiler.notes,
    )
    return result


def _unchanged(source: str, filename: str, style: str, note: str) -> DistributeResult:
    header = HEADER.format(name=Path(filename).name) + f"# {note}\n"
    return DistributeResult(source=header + source, style=style, notes=[note])


def compute_purity(tree: ast.Module) -> Purity:
    """Helpers whose only effects are remote calls (greatest fixpoint: recursion is fine)."""
    functions = {n: f for n, f in module_functions(tree).items() if n not in ENTRY_POINTS}
    purity = Purity(
        async_helpers={n for n, f in functions.items() if isinstance(f, ast.AsyncFunctionDef)},
        sync_helpers={n for n, f in functions.items() if isinstance(f, ast.FunctionDef)},
    )
    shared = {
        n for g in ast.walk(tree) if isinstance(g, ast.Global | ast.Nonlocal) for n in g.names
    }
    changed = True
    while changed:
        changed = False
        for name, func in functions.items():
            known = name in purity.async_helpers or name in purity.sync_helpers
            if known and not _function_is_pure(func, purity, shared):
                purity.async_helpers.discard(name)
                purity.sync_helpers.discard(name)
                changed = True
    return purity


def _calls_itself(func: ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == func.name
        for n in ast.walk(func)
    )


def _declared_names(func: ast.AST) -> set[str]:
    """Names the function declares global or nonlocal."""
    return {n for g in ast.walk(func) if isinstance(g, ast.Global | ast.Nonlocal) for n in g.names}


def _function_is_pure(
    func: ast.FunctionDef | ast.AsyncFunctionDef, purity: Purity, shared: set[str]
) -> bool:
    if free_names(func) & shared:
        return False  # reads a global that functions reassign: its value depends on timing
    fx = effects(func.body, purity)
    private = fresh_locals(func.body, purity) - {a.arg for a in func.args.args}
    return not (
        fx.prints
        or fx.unknown_calls
        or fx.impure_awaits
        or fx.scope_change
        or fx.mutated - private
        or fx.named_exprs
    )


class _Compiler:
    def __init__(self, tree: ast.Module, functions: list[FunctionInfo]) -> None:
        self.tree = tree
        self.functions = functions
        self.purity = compute_purity(tree)
        self.purity.async_helpers.add(OUTCOME)
        self.purity.sync_helpers |= {SETTLED, SETTLED_ALL}
        self.alloc = NameAllocator(all_names(tree) | {"pair", OUTCOME, SETTLED, SETTLED_ALL})
        self.env = TypeEnv({})
        # Decided on the program as written, before any pass rewrites a helper.
        self.helper_arity = non_raising_helpers(tree, functions, self.purity)
        self.gathers = 0
        self.loops = 0
        self.deferred_print = False
        self.notes: list[str] = []

    def run(self) -> None:
        for func in self.tree.body:
            if isinstance(func, ast.AsyncFunctionDef):
                if _calls_itself(func):
                    self.notes.append(
                        f"line {func.lineno}: {func.name} calls itself: the recursion is not "
                        "unrolled, so its calls run one level at a time"
                    )
                self._function(func)

    def _typed(self, func: ast.AsyncFunctionDef) -> TypeEnv:
        env = build_env(func, self.tree, self.functions)
        env.helper_arity = dict(self.helper_arity)
        return env

    def _function(self, func: ast.AsyncFunctionDef) -> None:
        comps = ComprehensionGatherer(self.purity, self.alloc, self._typed(func))
        comps.bound = set(comps.env.bound)
        body = []
        for stmt in func.body:
            body.append(comps.visit(stmt))
            comps.bound |= certainly_assigned([stmt])
        func.body = body
        self.gathers += comps.made
        func.body = lift_block(func.body, self.purity, self.alloc, self._typed(func))
        self.env = self._typed(func)
        func.body = self._block(func.body, func, [], [], set(self.env.bound))

    def _block(
        self,
        stmts: list[ast.stmt],
        func: ast.AsyncFunctionDef,
        after: list[list[ast.stmt]],
        enclosing: list[ast.stmt],
        bound: set[str],
    ) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        here = set(bound)
        for k, stmt in enumerate(stmts):
            inner_after = [stmts[k + 1 :], *after]
            out.extend(self._statement(stmt, func, inner_after, enclosing, here))
            here |= certainly_assigned([stmt])
        scheduled, made = schedule_block(out, self.purity, self.alloc, self.env, bound, self.notes)
        self.gathers += made
        return scheduled

    def _statement(
        self,
        stmt: ast.stmt,
        func: ast.AsyncFunctionDef,
        after: list[list[ast.stmt]],
        enclosing: list[ast.stmt],
        bound: set[str],
    ) -> list[ast.stmt]:
        if isinstance(stmt, ast.For | ast.While):
            inner = bound | (
                {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
                if isinstance(stmt, ast.For)
                else set()
            )
            stmt.body = self._block(stmt.body, func, after, [*enclosing, stmt], inner)
            stmt.orelse = self._block(stmt.orelse, func, after, enclosing, bound)
            if isinstance(stmt, ast.For):
                return self._loop(stmt, LoopContext(func, after, enclosing), inner)
            if any(isinstance(n, ast.Await) for n in ast.walk(stmt)):
                self.notes.append(
                    f"line {stmt.lineno}: while loop kept serial: it may not terminate, so no "
                    "call moves into or across it (overlapping a call made before it would let "
                    "the loop's calls fail first and change the exception raised)"
                )
            return [stmt]
        if isinstance(stmt, ast.If | ast.With | ast.AsyncWith | ast.AsyncFor):
            stmt.body = self._block(stmt.body, func, after, enclosing, bound)
            if isinstance(stmt, ast.If | ast.AsyncFor):
                stmt.orelse = self._block(stmt.orelse, func, after, enclosing, bound)
        elif isinstance(stmt, ast.Try):
            inside = [*enclosing, stmt]
            stmt.body = self._block(stmt.body, func, after, inside, bound)
            for handler in stmt.handlers:
                handler.body = self._block(handler.body, func, after, enclosing, bound)
            stmt.orelse = self._block(stmt.orelse, func, after, enclosing, bound)
            stmt.finalbody = self._block(stmt.finalbody, func, after, enclosing, bound)
        return [stmt]

    def _loop(self, loop: ast.For, ctx: LoopContext, bound: set[str]) -> list[ast.stmt]:
        ctx.shared = _declared_names(ctx.function)
        try:
            rewrite = parallelize_loop(loop, ctx, self.purity, self.alloc, (self.env, bound))
        except Serial as exc:
            self.notes.append(f"line {loop.lineno}: loop kept serial: {exc}")
            return [loop]
        if rewrite is None:
            return [loop]
        self.loops += 1
        self.deferred_print |= rewrite.uses_deferred_print
        self.notes.append(f"line {loop.lineno}: loop iterations gathered ({rewrite.helper})")
        return rewrite.statements


def _render(tree: ast.Module, filename: str, compiler: _Compiler, notes: list[str]) -> str:
    uses_asyncio = compiler.gathers or compiler.loops
    insert_at = _after_imports(tree)
    extra: list[ast.stmt] = []
    if uses_asyncio and not _imports(tree, "asyncio"):
        extra.append(ast.Import(names=[ast.alias("asyncio")]))
    if compiler.deferred_print:
        extra.extend(ast.parse(DEFERRED_PRINT_SOURCE).body)
    if any(isinstance(n, ast.Name) and n.id == OUTCOME for n in ast.walk(tree)):
        extra.extend(ast.parse(SETTLE_SOURCE).body)
    tree.body[insert_at:insert_at] = extra
    ast.fix_missing_locations(tree)
    header = HEADER.format(name=Path(filename).name)
    if notes or compiler.notes:
        header += "# Notes (line numbers are the serial program's):\n"
    for note in notes + compiler.notes:
        header += f"# - {note}\n"
    return header + _format(ast.unparse(tree)) + "\n"


def _format(source: str) -> str:
    """ruff's formatting when ruff is installed (readability only), else unparse's layout."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        return source
    try:
        done = subprocess.run(
            [ruff, "format", "--isolated", f"--line-length={LINE_LENGTH}", "-"],
            input=source,
            capture_output=True,
            text=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return source
    return done.stdout.rstrip("\n") if done.returncode == 0 else source


def _imports(tree: ast.Module, module: str) -> bool:
    return any(
        isinstance(s, ast.Import) and any(a.name == module for a in s.names) for s in tree.body
    )


def _after_imports(tree: ast.Module) -> int:
    index = 0
    for i, stmt in enumerate(tree.body):
        is_doc = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        if isinstance(stmt, ast.Import | ast.ImportFrom) or is_doc:
            index = i + 1
        else:
            break
    return index
