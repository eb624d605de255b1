"""The tool catalogue: each function's name, documentation, parameter and result models.

The JSON schemas of these models are exactly what the code generator reads (through the
runtime registry) and what the Kubernetes `Function` resources carry. Result shapes are
the contract of the reference programs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from dicec.errors import UnknownFunctionError

# An image travels as a reference string (see worker_models.imageref); its schema says
# what it means to a program: a PIL image.
ImageParam = Annotated[
    str,
    Field(json_schema_extra={"format": "binary", "python_type": "PIL.Image.Image"}),
]


class Params(BaseModel):
    """Base of every parameters model: unknown parameters are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", title="Parameters", strict=True)


class Result(BaseModel):
    """Base of every result model."""

    model_config = ConfigDict(title="Result", populate_by_name=True)


class BoundingBox(BaseModel):
    model_config = ConfigDict(title="BoundingBox")
    x: int
    y: int
    width: int
    height: int
    score: float = 0.0
    label: str = ""


class DetectedObject(BaseModel):
    model_config = ConfigDict(title="DetectedObject", populate_by_name=True)
    x: int
    y: int
    width: int
    height: int
    class_: str = Field(alias="class", title="Class")
    score: float


class GlipParams(Params):
    image: ImageParam
    object_name: str


class GlipResult(Result):
    result: list[BoundingBox]


class BlipParams(Params):
    image: ImageParam
    question: str


class BlipResult(Result):
    answer: str


class XvlmParams(Params):
    image: ImageParam
    object_name: str
    property: str


class XvlmResult(Result):
    result: bool
    score: float


class Yolov8Params(Params):
    image: ImageParam


class Yolov8Result(Result):
    objects: list[DetectedObject]


class Blip2Params(Params):
    image: ImageParam
    query: str


class Blip2Result(Result):
    output: str


class DepthParams(Params):
    image: ImageParam


class DepthResult(Result):
    depth: float
    min_depth: float
    max_depth: float


class NoopParams(Params):
    value: Any = None
    image: ImageParam | None = None
    sleep_ms: float = Field(default=0.0, ge=0.0, le=60_000.0)


class NoopResult(Result):
    value: Any = None


@dataclass(frozen=True)
class FunctionSpec:
    """One catalogue entry. `unwrap` names the result field a program receives directly."""

    name: str
    documentation: str
    params: type[Params]
    result: type[Result]
    architecture: str
    real_checkpoint: str
    unwrap: str | None = None
    batchable: bool = True

    def parameters_schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()

    def result_schema(self) -> dict[str, Any]:
        return self.result.model_json_schema(by_alias=True)

    def image_params(self) -> list[str]:
        """Names of the parameters that carry an image."""
        return list(_image_params_of(self.params))

    def as_function_resource(self) -> dict[str, Any]:
        """The `Function` custom resource of the paper (see glip_function.yaml).

        The CRD (k8s/base/functions/crd.yaml) has no status subresource, so the status
        written here is stored as applied: `kubectl get functions glip -o yaml` shows
        the paper's documentation, parametersSchema and resultSchema.
        """
        from dicec.keys import queue_for

        described = {
            "documentation": self.documentation,
            "parametersSchema": json.dumps(self.parameters_schema()),
            "resultSchema": json.dumps(self.result_schema()),
        }
        spec = {**described, "queue": queue_for(self.name), "architecture": self.architecture}
        if self.real_checkpoint:
            spec["checkpoint"] = self.real_checkpoint
        return {
            "apiVersion": FUNCTION_API_VERSION,
            "kind": "Function",
            "metadata": {"name": self.name},
            "spec": spec,
            "status": dict(described),
        }


FUNCTION_API_VERSION = "hermod.dicec.dev/v1"


@cache
def _image_params_of(params: type[Params]) -> tuple[str, ...]:
    # Once per model: building a JSON schema costs about a millisecond, and every call
    # (orchestrator and worker side) asks which of its parameters are images.
    props = params.model_json_schema().get("properties", {})
    return tuple(n for n, p in props.items() if _is_image_schema(p))


def _is_image_schema(prop: dict[str, Any]) -> bool:
    if prop.get("format") == "binary":
        return True
    return any(_is_image_schema(p) for p in prop.get("anyOf", []))


CATALOGUE: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec(
            name="glip",
            documentation=(
                "Finds the locations of object_name in the image. Returns a list of bounding "
                "boxes (x, y, width, height in pixels, with a score), best first; an empty "
                "list when the object is not found."
            ),
            params=GlipParams,
            result=GlipResult,
            architecture="zero-shot object detection (OWL-ViT / OWLv2 / Grounding DINO)",
            real_checkpoint="google/owlv2-base-patch16-ensemble",
            unwrap="result",
        ),
        FunctionSpec(
            name="blip",
            documentation=(
                "Answers a question about the image in a few words (visual question "
                "answering). Returns {'answer': str}."
            ),
            params=BlipParams,
            result=BlipResult,
            architecture="BLIP visual question answering",
            real_checkpoint="Salesforce/blip-vqa-base",
        ),
        FunctionSpec(
            name="xvlm",
            documentation=(
                "Checks whether the object_name in the image has the given property (for "
                "example 'damaged'). Returns {'result': bool, 'score': float}."
            ),
            params=XvlmParams,
            result=XvlmResult,
            architecture="image-text matching (CLIP)",
            real_checkpoint="openai/clip-vit-base-patch32",
        ),
        FunctionSpec(
            name="yolov8",
            documentation=(
                "Detects every object of the known classes in the image. Returns "
                "{'objects': [{'x', 'y', 'width', 'height', 'class', 'score'}]}."
            ),
            params=Yolov8Params,
            result=Yolov8Result,
            architecture="closed-set object detection (YOLOS / DETR)",
            real_checkpoint="hustvl/yolos-tiny",
        ),
        FunctionSpec(
            name="blip2",
            documentation=(
                "Answers an open question or instruction about the image in free text. "
                "Returns {'output': str}."
            ),
            params=Blip2Params,
            result=Blip2Result,
            architecture="BLIP-2 (vision encoder + Q-Former + OPT language model)",
            real_checkpoint="Salesforce/blip2-opt-2.7b",
        ),
        FunctionSpec(
            name="depth",
            documentation=(
                "Estimates the depth of the image. Returns {'depth': median depth in meters, "
                "'min_depth', 'max_depth'}."
            ),
            params=DepthParams,
            result=DepthResult,
            architecture="monocular depth estimation (DPT / Depth Anything)",
            real_checkpoint="Intel/dpt-hybrid-midas",
        ),
        FunctionSpec(
            name="noop",
            documentation=(
                "Returns its input value unchanged, after sleeping sleep_ms milliseconds. For "
                "health checks and benchmarks."
            ),
            params=NoopParams,
            result=NoopResult,
            architecture="none",
            real_checkpoint="",
        ),
    )
}

MODEL_FUNCTIONS = tuple(n for n in CATALOGUE if n != "noop")


def get_spec(name: str) -> FunctionSpec:
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(sorted(CATALOGUE))
        raise UnknownFunctionError(f"unknown function {name!r}; known functions: {known}") from None
