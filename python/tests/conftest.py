"""Shared fixtures for the CPU tests (seed printed in the header, overridable)."""
import os

import pytest

SEED = int(os.environ.get("LITEATTN_TEST_SEED", "0"))


def pytest_report_header(config):
    import liteattn
    return f"liteattn library: {liteattn.library_path()} (seed {SEED}, LITEATTN_TEST_SEED)"


@pytest.fixture
def seed():
    return SEED
