"""liteattn: temporal sparse attention (LiteAttention) for video diffusion transformers.

The C library does the work; this package binds it (ctypes), wraps it as a torch op and an
nn.Module, plugs it into diffusers' video transformers and calibrates thresholds. torch is
optional: without it only the numpy entry point (liteattn.numpy_api) and the binding load."""
from ._lib import LiteAttnError, library_path, version  # noqa: F401
from .numpy_api import attention as attention_numpy  # noqa: F401

__version__ = "0.1.0"
__all__ = ["LiteAttnError", "library_path", "version", "attention_numpy", "attention",
           "mask_geometry", "LiteAttention"]

try:
    import torch  # noqa: F401
except ImportError:  # numpy-only install
    pass
else:
    from .ops import attention, mask_geometry  # noqa: F401
    from .module import LiteAttention  # noqa: F401
