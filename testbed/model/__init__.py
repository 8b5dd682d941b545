"""The testbed's small video DiT (see dit.py)."""
from .dit import (CONFIGS, DiTConfig, VideoDiT, load_weights, param_count,  # noqa: F401
                  save_weights)
