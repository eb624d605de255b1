"""The LLM client: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, ...) via `openai`.

Bounded everywhere: each request has the client timeout, transient failures (connection,
timeout, 429, 5xx, an unreadable answer) are retried a bounded number of times with
exponential backoff, and anything else fails at once with an LLMError naming the
endpoint and the cause.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass
from typing import Any

import openai

from dicec.errors import LLMError
from dicec.settings import Settings, get_settings

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
TEMPERATURE = 0.0
FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)
PYTHON_TAGS = frozenset({"", "python", "py", "python3"})
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    api_key: str
    model: str
    timeout_s: float
    max_retries: int
    backoff_base_s: float = BACKOFF_BASE_S

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LLMConfig:
        s = settings or get_settings()
        return cls(
            base_url=s.llm_base_url,
            api_key=s.llm_api_key,
            model=s.llm_model,
            timeout_s=s.llm_timeout_s,
            max_retries=s.llm_max_retries,
        )


class _Transient(Exception):
    """A failure worth retrying."""


class LLMClient:
    """Chat completions with bounded retries; `complete(messages)` returns the answer text."""

    def __init__(self, config: LLMConfig | None = None) -> None:
        self.config = config or LLMConfig.from_settings()
        # Retries are ours (with the reasons kept for the error message), not the client's.
        self._client = openai.OpenAI(
            base_url=self.config.base_url,
            api_key=self.config.api_key,
            timeout=self.config.timeout_s,
            max_retries=0,
        )

    def complete(self, messages: list[dict[str, str]]) -> str:
        attempts = self.config.max_retries + 1
        reasons: list[str] = []
        for attempt in range(attempts):
            try:
                return self._once(messages)
            except _Transient as exc:
                reasons.append(str(exc))
            if attempt + 1 < attempts:
                time.sleep(min(BACKOFF_MAX_S, self.config.backoff_base_s * 2**attempt))
        raise LLMError(
            f"LLM endpoint {self.config.base_url} (model {self.config.model}) failed "
            f"{attempts} time(s): {'; '.join(dict.fromkeys(reasons))}"
        )

    def _once(self, messages: list[dict[str, str]]) -> str:
        try:
            response = self._client.chat.completions.create(
                model=self.config.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=TEMPERATURE,
            )
        except openai.APITimeoutError:
            raise _Transient(f"no answer within {self.config.timeout_s:g} s") from None
        except openai.APIConnectionError as exc:
            raise _Transient(f"cannot connect ({_cause(exc)})") from None
        except openai.APIStatusError as exc:
            if exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500:
                raise _Transient(f"HTTP {exc.status_code}") from None
            raise LLMError(
                f"LLM endpoint {self.config.base_url} refused the request: HTTP "
                f"{exc.status_code} {_short(exc.message)}"
            ) from None
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise _Transient(f"unreadable answer ({_short(str(exc))})") from None
        return _text_of(response)


def _text_of(response: Any) -> str:
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _Transient(f"answer without choices: {_short(repr(response))}")
    content = getattr(getattr(choices[0], "message", None), "content", None)
    if not isinstance(content, str) or not content.strip():
        raise _Transient("answer with empty content")
    return content


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return _short(str(cause) if cause else str(exc))


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def extract_code(answer: str) -> str | None:
    """The program in an answer: the fenced block with an entry point (else the first
    fenced block), or the whole answer if it is bare Python with an entry point."""
    blocks = [code for tag, code in FENCE.findall(answer) if tag.lower() in PYTHON_TAGS]
    if blocks:
        chosen = next((b for b in blocks if "def execute_" in b), blocks[0])
        return chosen.strip() + "\n"
    text = answer.strip()
    if "def execute_" in text:
        try:
            ast.parse(text)
        except SyntaxError:
            return None
        return text + "\n"
    return None
