"""Values generated from a JSON schema, deterministically from a random.Random.

Used by the stand-in runtime to answer calls with results of the right shape. Values are
chosen so that programs' branches get exercised: lists of 0..3 items, both booleans,
depths on both sides of typical thresholds, boxes inside the image they were found in.
"""

from __future__ import annotations

import random
from typing import Any

MAX_ITEMS = 3
MAX_NUMBER = 10.0
WORDS = (
    "red",
    "blue",
    "white",
    "black",
    "sedan",
    "truck",
    "plastic",
    "glass",
    "bottle",
    "yes",
    "no",
    "dog",
    "person",
    "muffin",
    "two",
    "wood",
    "metal",
    "bag",
)
BOX_POSITION = ("x", "y", "left", "top")
BOX_SIZE = ("width", "height")
UNIT_FIELDS = ("score", "confidence", "probability")


def generate(
    schema: dict[str, Any], rng: random.Random, image_size: tuple[int, int] = (64, 64)
) -> Any:
    """A value valid for `schema` (a pydantic-style JSON schema with $defs)."""
    return _Generator(schema.get("$defs", {}), rng, image_size).value(schema, "")


class _Generator:
    def __init__(
        self, defs: dict[str, Any], rng: random.Random, image_size: tuple[int, int]
    ) -> None:
        self.defs = defs
        self.rng = rng
        self.width, self.height = image_size

    def value(self, schema: dict[str, Any], field: str) -> Any:
        schema = self._resolve(schema)
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if self._resolve(o).get("type") != "null"]
                return self.value(self.rng.choice(options or schema[key]), field)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        maker = {
            "object": self._object,
            "array": self._array,
            "string": self._string,
            "integer": self._integer,
            "number": self._number,
            "boolean": self._boolean,
            "null": lambda s, f: None,
        }.get(kind or "", lambda s, f: None)
        return maker(schema, field)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if ref and ref.startswith("#/$defs/"):
            return self._resolve(self.defs[ref.removeprefix("#/$defs/")])
        return schema

    def _object(self, schema: dict[str, Any], field: str) -> dict[str, Any]:
        props = schema.get("properties", {})
        return {name: self.value(sub, name.lower()) for name, sub in props.items()}

    def _array(self, schema: dict[str, Any], field: str) -> list[Any]:
        low = schema.get("minItems", 0)
        high = max(low, min(schema.get("maxItems", MAX_ITEMS), MAX_ITEMS))
        items = schema.get("items", {})
        return [self.value(items, field) for _ in range(self.rng.randint(low, high))]

    def _string(self, schema: dict[str, Any], field: str) -> str:
        return self.rng.choice(WORDS)

    def _integer(self, schema: dict[str, Any], field: str) -> int:
        if field in BOX_POSITION:
            limit = self.width if field in ("x", "left") else self.height
            return self.rng.randint(0, max(0, limit // 2))
        if field in BOX_SIZE:
            limit = self.width if field == "width" else self.height
            return self.rng.randint(1, max(1, limit // 2))
        low = int(schema.get("minimum", 0))
        return self.rng.randint(low, max(low, int(schema.get("maximum", MAX_NUMBER))))

    def _number(self, schema: dict[str, Any], field: str) -> float:
        high = 1.0 if field in UNIT_FIELDS else float(schema.get("maximum", MAX_NUMBER))
        low = float(schema.get("minimum", 0.0))
        return round(self.rng.uniform(low, max(low, high)), 2)

    def _boolean(self, schema: dict[str, Any], field: str) -> bool:
        return self.rng.random() < 0.5
