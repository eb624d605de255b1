"""Natural-language query -> validated serial program, with bounded repair rounds.

The LLM's answer must parse, have an entry point, pass the sandbox's allow-list and call
only registered functions with parameters that exist. Problems go back to the LLM; after
`repair_rounds` failed repairs an LLMError lists what was still wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from codegen.llm import LLMClient, extract_code
from codegen.prompt import generate_messages, repair_message
from codegen.static import check_program
from dicec.errors import LLMError, RegistryError
from dicec.redis_conn import redacted_url
from dicec.settings import Settings, get_settings
from worker_models.registry import FunctionInfo, catalogue_functions, list_functions

GENERATED_FILENAME = "generated.py"
NO_CODE = "the answer contains no Python program (expected one ```python code block)"


@dataclass
class FunctionSource:
    functions: list[FunctionInfo]
    origin: str  # where the documentation came from, for the user to see
    notice: str | None = None  # one line for the user when the shipped catalogue stood in


@dataclass
class GenerateResult:
    source: str
    attempts: int


def load_functions(
    offline: bool = False, settings: Settings | None = None, fallback: bool = False
) -> FunctionSource:
    """The functions and their docs: the live registry in Redis, or (when asked) the
    catalogue compiled into this package. `fallback`: an empty or unreachable registry
    gives the shipped catalogue, with a one-line notice (converting a program offline)."""
    if fallback and not offline:
        try:
            return load_functions(False, settings)
        except RegistryError as exc:
            why = "is empty" if "is empty" in str(exc) else "cannot be read"
            notice = f"notice: the function registry {why}; using the shipped catalogue"
            return FunctionSource(catalogue_functions(), "the shipped catalogue", notice)
    if offline:
        return FunctionSource(catalogue_functions(), "the compiled-in catalogue (offline)")
    from dicec.redis_conn import sync_client

    settings = settings or get_settings()
    client = sync_client(settings)
    try:
        functions = list_functions(client)
    except redis.RedisError as exc:
        raise RegistryError(
            f"cannot read the function registry at {redacted_url(settings.redis_url)}: {exc}; "
            "start Redis and the worker pools, or use the offline "
            "catalogue"
        ) from None
    finally:
        client.close()
    if not functions:
        raise RegistryError(
            f"the function registry at {redacted_url(settings.redis_url)} is empty: start "
            "worker pools (they publish their functions) or use the offline "
            "catalogue"
        )
    online = sum(f.online for f in functions)
    return FunctionSource(
        functions, f"the live registry ({len(functions)} functions, {online} served now)"
    )


def generate(
    query: str, functions: list[FunctionInfo], client: LLMClient, repair_rounds: int | None = None
) -> GenerateResult:
    """Ask for a serial program; feed problems back up to `repair_rounds` times."""
    if not query.strip():
        raise LLMError("the query is empty")
    rounds = get_settings().llm_repair_rounds if repair_rounds is None else repair_rounds
    messages = generate_messages(query, functions)
    problems: list[str] = []
    for attempt in range(1, rounds + 2):
        answer = client.complete(messages)
        code = extract_code(answer)
        problems = [NO_CODE] if code is None else check_program(code, GENERATED_FILENAME, functions)
        if code is not None and not problems:
            return GenerateResult(code, attempt)
        messages += [{"role": "assistant", "content": answer}, repair_message(problems)]
    raise LLMError(
        f"the LLM produced no valid program in {rounds + 1} attempt(s); still wrong: "
        + "; ".join(problems)
    )
