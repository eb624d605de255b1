"""The one exception tree of the project. Every error a user can see is one of these."""

from __future__ import annotations


class DicecError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(DicecError):
    """A settings value, pools file or profile is invalid."""


class UnknownFunctionError(DicecError):
    """A call names a function that is not in the catalogue."""


class CallValidationError(DicecError):
    """A call's parameters do not match the function's parameters schema."""


class ResultValidationError(DicecError):
    """A function's result does not match its result schema."""


class BadImageError(DicecError):
    """An image cannot be decoded, is empty, truncated or over the pixel limit."""


class ImageNotFoundError(DicecError):
    """An image reference points to nothing in the image store (expired or never stored)."""


class CallFailedError(DicecError):
    """A remote function call failed on its worker; the message says why."""


class CallTimeoutError(DicecError):
    """A remote call got no reply in time, even after being resent."""


class CrashLoopError(DicecError):
    """A call whose worker process died every time it ran it: it is not run again."""


class WireFormatError(DicecError):
    """A message on the wire is undecodable or has an unsupported schema version."""


class ModelLoadError(DicecError):
    """A model checkpoint could not be loaded for a function."""


class ProgramError(DicecError):
    """A program is invalid: does not parse, lacks an entry point or breaks the sandbox rules."""


class SandboxViolation(ProgramError):
    """A program tried something the sandbox forbids (imports, dunders, files, ...)."""


class ProgramFailedError(ProgramError):
    """A program failed in its jailed process; `error_type` names its exception there."""

    def __init__(self, message: str, error_type: str, printed: list[str]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.printed = printed


class JailError(DicecError):
    """The program jail could not start, or its zygote process is gone."""


class ProgramTimeoutError(DicecError):
    """A program ran past its wall-clock limit."""


class ProgramResourceError(DicecError):
    """A program exceeded its memory, output or recursion budget."""


class BatchError(DicecError):
    """A batch cannot be started or resumed (no images, unknown batch id, ...)."""


class PreflightError(BatchError):
    """A batch is refused before its first task: a bad program or a function with no pool."""


class BatchInterrupted(BatchError):
    """Redis stayed unreachable or refused writes past the outage limit: the batch
    stopped, resumable with --resume."""


class LLMError(DicecError):
    """The LLM endpoint is down, too slow, or never produced a valid program."""


class VerificationError(DicecError):
    """A distributed program is not equivalent to its serial program."""


class RegistryError(DicecError):
    """The runtime function registry cannot be read or holds no functions."""


class ComparisonError(DicecError):
    """Two batches did different work (cache, calls computed): their costs do not compare."""


class PlanError(DicecError):
    """No pool plan meets the deadline (or the budget) under the profile."""
