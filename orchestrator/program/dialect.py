"""The program dialect's names: what a shipped or generated program defines and calls.

One place for the facts that the sandbox, ImagePatch and the compiler passes of codegen
all read: the entry points a program defines, the ImagePatch methods that call a model,
and the suffix of their awaitable twins.
"""

from __future__ import annotations

# A program defines one of these; the first is given the image path, the second the image.
ENTRY_POINTS = ("execute_query", "execute_command")

# ImagePatch methods that call a model; each has an awaitable `<name>_async` twin.
MODEL_METHODS = frozenset(
    {
        "find",
        "exists",
        "verify_property",
        "simple_query",
        "compute_depth",
        "best_text_match",
        "llm_query",
    }
)
ASYNC_SUFFIX = "_async"  # find -> find_async
# Free functions of ViperGPT's API that call a model; each has an `<name>_async` twin.
MODEL_FUNCTIONS = frozenset({"best_image_match"})
