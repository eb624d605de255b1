"""Choosing the distributed program that is shipped: only ever a verified one.

Without --llm: the compiler's output, verified on the stand-in runtime (should the
compiler ever produce a non-equivalent program, the serial program is shipped instead and
the reason printed). With --llm: the LLM's rewrite if it verifies equivalent, else the
compiler's output, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codegen.distribute import HEADER, distribute
from codegen.llm import LLMClient, extract_code
from codegen.prompt import rewrite_messages
from codegen.verify import VerificationReport, verify
from dicec.errors import LLMError
from worker_models.registry import FunctionInfo

MAX_REASONS_SHOWN = 3


@dataclass
class Distribution:
    source: str
    made_by: str  # "compiler", "llm" or "serial (fallback)"
    report: VerificationReport
    messages: list[str] = field(default_factory=list)


def distribute_verified(
    serial: str,
    filename: str,
    functions: list[FunctionInfo],
    llm: LLMClient | None = None,
    seeds: int = 8,
) -> Distribution:
    messages: list[str] = []
    if llm is not None:
        chosen = _try_llm(serial, filename, functions, llm, seeds, messages)
        if chosen is not None:
            return chosen
    compiled = distribute(serial, filename, functions)
    report = verify(serial, compiled.source, functions=functions, seeds=seeds)
    if report.equivalent:
        return Distribution(compiled.source, "compiler", report, messages + compiled.notes)
    reason = _reasons(report)
    messages.append(
        f"the compiler's output did not verify ({reason}); shipping the serial program unchanged"
    )
    note = f"# kept serial: the compiled form did not verify: {reason}\n"
    source = HEADER.format(name=Path(filename).name) + note + serial
    return Distribution(source, "serial (fallback)", report, messages)


def _try_llm(
    serial: str,
    filename: str,
    functions: list[FunctionInfo],
    llm: LLMClient,
    seeds: int,
    messages: list[str],
) -> Distribution | None:
    try:
        answer = llm.complete(rewrite_messages(serial, functions))
    except LLMError as exc:
        messages.append(f"LLM rewrite not used: {exc}; using the compiler")
        return None
    code = extract_code(answer)
    if code is None:
        messages.append("LLM rewrite not used: the answer holds no program; using the compiler")
        return None
    report = verify(serial, code, functions=functions, seeds=seeds)
    if not report.equivalent:
        messages.append(
            f"LLM rewrite not used: not equivalent ({_reasons(report)}); using the compiler"
        )
        return None
    header = (
        f"# Distributed form of {Path(filename).name}, rewritten by the LLM and verified "
        "equivalent\n# on the stand-in runtime (`dicec codegen verify`).\n"
    )
    messages.append(f"LLM rewrite verified equivalent ({len(report.cases)} stand-in runs)")
    return Distribution(header + code, "llm", report, messages)


def _reasons(report: VerificationReport) -> str:
    return "; ".join(report.reasons[:MAX_REASONS_SHOWN]) or "no reason given"
