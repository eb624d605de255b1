"""Reading the project's YAML config files (pools files, profiles) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dicec.errors import ConfigError


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """The file's top-level mapping, named after the file unless it names itself."""
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {path}: expected a mapping at the top level")
    raw.setdefault("name", path.stem)
    return raw
