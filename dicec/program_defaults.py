"""The default budgets of one task's program, named once.

Settings (dicec.settings) uses them as its defaults and sandbox.Limits as its own, so
that the program runtime (and the jail's zygote, whose every forked child pays for each
module it holds) need not import pydantic-settings to know them.
"""

from __future__ import annotations

TASK_TIMEOUT_S = 300.0
PROGRAM_MEMORY_MB = 512
PROGRAM_MAX_OUTPUT_CHARS = 200_000
