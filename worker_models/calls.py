"""Turning a program's call (`hermod.call(name, **kwargs)`) into a validated request.

Shared by the async hermod runtime and the sync client: images become references
(uploads listed for the caller to perform with its own Redis client), then the
parameters are validated against the function's schema before anything is sent.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dicec.errors import CallValidationError, ResultValidationError
from worker_models.catalogue import FunctionSpec, get_spec
from worker_models.imageref import image_to_ref
from worker_models.wire import CallRequest


@dataclass
class PreparedCall:
    spec: FunctionSpec
    params: dict[str, Any]
    uploads: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes to store

    def request(
        self,
        reply_to: str,
        batch_id: str | None = None,
        use_cache: bool = True,
        call_id: str | None = None,
    ) -> CallRequest:
        return CallRequest(
            call_id=call_id or uuid.uuid4().hex,
            function=self.spec.name,
            params=self.params,
            reply_to=reply_to,
            batch_id=batch_id,
            sent_at=time.time(),
            use_cache=use_cache,
        )


def describe_validation_error(function: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "parameters"
        if err["type"] == "extra_forbidden":
            parts.append(f"unexpected parameter {where!r}")
        elif err["type"] == "missing":
            parts.append(f"missing parameter {where!r}")
        else:
            parts.append(f"parameter {where!r}: {err['msg']}")
    return f"{function}: " + "; ".join(parts)


def prepare_call(name: str, kwargs: dict[str, Any]) -> PreparedCall:
    """Validate a call against the catalogue; raises UnknownFunctionError / CallValidationError."""
    spec = get_spec(name)
    uploads: dict[str, bytes] = {}
    image_params = set(spec.image_params())
    params = {k: image_to_ref(v, uploads) if k in image_params else v for k, v in kwargs.items()}
    try:
        spec.params.model_validate(params)
    except ValidationError as exc:
        raise CallValidationError(describe_validation_error(name, exc)) from None
    return PreparedCall(spec, params, uploads)


def check_result(spec: FunctionSpec, result: dict[str, Any] | None) -> Any:
    """Validate a result against the result schema; return what the program receives."""
    try:
        model = spec.result.model_validate(result)
    except ValidationError as exc:
        raise ResultValidationError(
            f"{spec.name}: result does not match its schema: {exc.errors()[0]['msg']}"
        ) from None
    value = model.model_dump(by_alias=True)
    return value[spec.unwrap] if spec.unwrap else value
