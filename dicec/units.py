"""Unit conversions, named once."""

from __future__ import annotations

SECONDS_PER_HOUR = 3600.0
BYTES_PER_MB = 1e6
