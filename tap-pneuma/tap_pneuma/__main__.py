"""Run the tap with ``python -m tap_pneuma``."""

from __future__ import annotations

from tap_pneuma.tap import TapPneuma

TapPneuma.cli()
