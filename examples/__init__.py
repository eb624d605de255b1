"""The programs the project ships, as package data (found the same way in a checkout
and in an installed package)."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent


def example_program(name: str) -> Path:
    """A shipped program by file name, e.g. `claims_distributed.py`."""
    return EXAMPLES_DIR / name
