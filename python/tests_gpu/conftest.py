"""GPU tests (run by the GPU script, never collected in CI): they need CUDA and a liteattn
library built with the CUDA backends; the CPU tests' helpers are shared from ../tests."""
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SEED = int(os.environ.get("LITEATTN_TEST_SEED", "0"))


def pytest_configure(config):
    if not torch.cuda.is_available():
        raise pytest.UsageError("tests_gpu needs a CUDA device (torch.cuda.is_available() is "
                                "False); the CPU tests live in python/tests")


def pytest_report_header(config):
    import liteattn
    return (f"liteattn library: {liteattn.library_path()}; device "
            f"{torch.cuda.get_device_name()}; torch {torch.__version__}; seed {SEED}")


@pytest.fixture
def seed():
    return SEED
