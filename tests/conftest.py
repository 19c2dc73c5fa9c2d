"""Shared test helpers: the real-corpus fixtures folder beside the checkout (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ../shared/fixtures next to the checkout; MIR101_FIXTURES overrides it.
FIXTURES = Path(os.environ.get("MIR101_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))


def fixture_path(*parts: str) -> Path:
    """Path of a real corpus sample under ``../shared/fixtures``; skips the test when it is absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real fixture {path} not available")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    """The real-corpus fixtures folder; skips the test when it is absent."""
    return fixture_path()
