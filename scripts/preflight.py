"""The checks a batch passes before its first task (the front door makes them once):

- the program compiles and passes the sandbox rules, calls only known functions, with
  parameter names of their live schemas (codegen.static.check_program);
- every function it can call has a live pool: those missing are started (`--local auto`)
  from the pools file, or the batch is refused naming each function and its queue.
"""

from __future__ import annotations

import redis

from codegen.static import check_program
from dicec.errors import PreflightError
from orchestrator.batch.poolwatch import describe_unserved, unserved
from orchestrator.program.called import functions_called
from worker_models.pools import PoolsFile
from worker_models.registry import FunctionInfo, catalogue_functions, list_functions

MAX_PROBLEMS_SHOWN = 5


def known_functions(r: redis.Redis) -> list[FunctionInfo]:
    """The live registry's schemas, and the catalogue's for functions never published."""
    live = {f.name: f for f in list_functions(r)}
    return list(live.values()) + [f for f in catalogue_functions() if f.name not in live]


def check_batch_program(source: str, filename: str, r: redis.Redis) -> set[str]:
    """Refuse a bad program; return the functions it can call."""
    problems = check_program(source, filename, known_functions(r))
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise PreflightError(
            f"program {filename} refused before any task: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
        )
    return functions_called(source, filename)


def pools_to_start(r: redis.Redis, needed: set[str], pools: PoolsFile) -> list[str]:
    """The pools of the pools file that serve the functions with no live pool."""
    missing = unserved(r, needed)
    hosting = {fn: p.name for p in pools.pools for fn in p.functions}
    nowhere = [fn for fn in missing if fn not in hosting]
    if nowhere:
        raise PreflightError(
            f"no live worker serves {describe_unserved(nowhere)} and pools file "
            f"{pools.name!r} has no pool for it"
        )
    return sorted({hosting[fn] for fn in missing})


def refuse_unserved(r: redis.Redis, needed: set[str], pools: PoolsFile) -> None:
    """--local no: refuse the batch when a function it calls has no live pool."""
    missing = unserved(r, needed)
    if missing:
        hosting = {fn: p.name for p in pools.pools for fn in p.functions}
        hint = ", ".join(f"`dicec worker --pool {hosting[fn]}`" for fn in missing if fn in hosting)
        raise PreflightError(
            f"no live worker serves {describe_unserved(missing)}; start "
            f"{hint or 'a pool that serves it'} or submit with --local auto"
        )
