"""ctypes binding over include/liteattn.h: finding (or building) the shared library, mirrors of
the public structs, one typed stub per C function (its C prototype in the comment above it), the
status table read from the library, and the exception every failure becomes."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from ctypes import (POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int64, c_size_t,
                    c_uint32, c_void_p)
from pathlib import Path
from typing import Dict, List, Optional

# ---------------------------------------------------------------------------------------------
# Finding the library
# ---------------------------------------------------------------------------------------------
_PACKAGE_DIR = Path(__file__).resolve().parent
# python/liteattn/_lib.py -> the repository root when the package runs from a checkout.
_REPO_ROOT = _PACKAGE_DIR.parents[1]
_LIB_NAME = "libliteattn.so"
_EXPECTED_VERSION = 100  # LITEATTN_VERSION of the header these mirrors were written against


def _repo_has_sources() -> bool:
    return (_REPO_ROOT / "include" / "liteattn.h").is_file() and (
        _REPO_ROOT / "CMakeLists.txt").is_file()


def _sanitized(build_dir: Path) -> bool:
    """A build with AddressSanitizer cannot be loaded into a Python that was not started with it."""
    cache = build_dir / "CMakeCache.txt"
    return cache.is_file() and "LITEATTN_SANITIZE:BOOL=ON" in cache.read_text(errors="replace")


def _candidates() -> List[Path]:
    """Where the library may already be, in the order they are tried: the package's copy, then
    the checkout's build/ and build-python/, then its other build*/ dirs, newest first."""
    out = [_PACKAGE_DIR / _LIB_NAME]
    if _repo_has_sources():
        preferred = [_REPO_ROOT / "build", _REPO_ROOT / "build-python"]
        others = sorted((p for p in _REPO_ROOT.glob("build*/") if p not in preferred),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        out.extend(d / _LIB_NAME for d in preferred + others if not _sanitized(d))
    return out


def build_library(build_dir: Optional[Path] = None, cmake_args: Optional[List[str]] = None) -> Path:
    """Builds libliteattn with cmake from the checkout this package lives in and returns its path.
    Extra configure arguments come from `cmake_args` or the LITEATTN_CMAKE_ARGS environment
    variable (default: CUDA backends if nvcc is found, no tests)."""
    if not _repo_has_sources():
        raise LiteAttnError(
            f"liteattn: no {_LIB_NAME} found and no source tree at {_REPO_ROOT} to build it from; "
            "set LITEATTN_LIBRARY to the library's path or reinstall the package", status=None)
    cmake = shutil.which("cmake")
    if cmake is None:
        raise LiteAttnError("liteattn: cmake is not on PATH, cannot build the C library "
                            "(set LITEATTN_LIBRARY to a built libliteattn.so)", status=None)
    build_dir = Path(build_dir or (_REPO_ROOT / "build-python"))
    if cmake_args is None:
        cmake_args = os.environ.get("LITEATTN_CMAKE_ARGS", "-DLITEATTN_BUILD_TESTS=OFF").split()
    jobs = os.environ.get("LITEATTN_BUILD_JOBS", "2")
    for cmd in ([cmake, "-S", str(_REPO_ROOT), "-B", str(build_dir),
                 "-DCMAKE_BUILD_TYPE=Release", *cmake_args],
                [cmake, "--build", str(build_dir), "--target", "liteattn", "-j", jobs]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LiteAttnError(f"liteattn: `{' '.join(cmd)}` failed:\n{proc.stdout[-2000:]}"
                                f"{proc.stderr[-2000:]}", status=None)
    return build_dir / _LIB_NAME


def find_library() -> Path:
    """The library this package loads: $LITEATTN_LIBRARY, else a copy inside the package, else
    the newest build*/ of the checkout, else one built now with cmake."""
    env = os.environ.get("LITEATTN_LIBRARY")
    if env:
        p = Path(env)
        if not p.is_file():
            raise LiteAttnError(f"liteattn: LITEATTN_LIBRARY = {env!r} is not a file", status=None)
        return p
    for p in _candidates():
        if p.is_file():
            return p
    return build_library()


# ---------------------------------------------------------------------------------------------
# Enums (ABI numbers from include/liteattn.h; only appended there)
# ---------------------------------------------------------------------------------------------
DTYPE_BF16, DTYPE_FP16, DTYPE_FP32 = 0, 1, 2
CRITERION_PEAK, CRITERION_MASS = 0, 1
BACKEND_AUTO, BACKEND_CPU, BACKEND_CUDA, BACKEND_CUDA_PORTABLE, BACKEND_CUDA_SM90 = 0, 1, 2, 3, 4
KERNEL_NONE, KERNEL_CPU, KERNEL_CUDA_PORTABLE, KERNEL_CUDA_SM90 = 0, 1, 2, 3
MAX_RANGES = 8  # LITEATTN_MAX_RANGES

CRITERIA = {"peak": CRITERION_PEAK, "mass": CRITERION_MASS}


# ---------------------------------------------------------------------------------------------
# Struct mirrors
# ---------------------------------------------------------------------------------------------
class liteattn_tensor_t(Structure):
    _fields_ = [("data", c_void_p), ("dtype", c_int),
                ("batch", c_int64), ("seqlen", c_int64), ("heads", c_int64), ("head_dim", c_int64),
                ("stride_b", c_int64), ("stride_s", c_int64), ("stride_h", c_int64)]


class liteattn_range_t(Structure):
    _fields_ = [("begin", c_int64), ("end", c_int64)]


class liteattn_mask_geometry_t(Structure):
    _fields_ = [("block_m", c_int64), ("block_n", c_int64), ("tiles_q", c_int64),
                ("tiles_k", c_int64), ("words_per_row", c_int64), ("rows", c_int64),
                ("words", c_int64), ("bytes", c_size_t)]


class liteattn_fwd_args_t(Structure):
    _fields_ = [("struct_size", c_size_t),
                ("q", liteattn_tensor_t), ("k", liteattn_tensor_t), ("v", liteattn_tensor_t),
                ("o", liteattn_tensor_t),
                ("lse", POINTER(c_float)),
                ("scale", c_float),
                ("read_mask", POINTER(c_uint32)), ("read_mask_words", c_size_t),
                ("write_mask", POINTER(c_uint32)), ("write_mask_words", c_size_t),
                ("threshold", c_float),
                ("criterion", c_int),
                ("must_do_k", POINTER(liteattn_range_t)), ("num_must_do_k", c_int),
                ("must_do_q", POINTER(liteattn_range_t)), ("num_must_do_q", c_int),
                ("backend", c_int)]


class liteattn_policy_t(Structure):
    _fields_ = [("dense_calls", c_int64), ("refresh_every", c_int64)]


class liteattn_state_t(Structure):
    _fields_ = [("geom", liteattn_mask_geometry_t),
                ("batch", c_int64), ("heads_q", c_int64), ("seqlen_q", c_int64),
                ("seqlen_k", c_int64), ("head_dim", c_int64),
                ("dtype", c_int),
                ("masks", POINTER(c_uint32)),
                ("policy", liteattn_policy_t),
                ("calls", c_int64),
                ("phase", c_int),
                ("read_full", c_int)]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
class LiteAttnError(ValueError, RuntimeError):
    """A liteattn call failed. `status` is the C status code (None for failures found in Python),
    `status_name` its name, `detail` the C library's liteattn_last_error() text, `argument` the
    argument at fault where known. Catchable as ValueError or RuntimeError."""

    def __init__(self, message: str, status: Optional[int] = None, status_name: str = "",
                 detail: str = "", argument: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.status_name = status_name
        self.detail = detail
        self.argument = argument


# ---------------------------------------------------------------------------------------------
# The library and its stubs
# ---------------------------------------------------------------------------------------------
_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[Path] = None
_lock = threading.Lock()
STATUS: Dict[int, str] = {}  # code -> name, read from the library at load


def lib() -> ctypes.CDLL:
    """The loaded library (loaded and checked on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            path = find_library()
            handle = ctypes.CDLL(str(path))
            _declare(handle)
            version = handle.liteattn_version()
            if version // 100 != _EXPECTED_VERSION // 100:
                raise LiteAttnError(f"liteattn: {path} is version {version}, this package "
                                    f"expects {_EXPECTED_VERSION} (major.minor)", status=None)
            size = handle.liteattn_fwd_args_init_value().struct_size
            if size != ctypes.sizeof(liteattn_fwd_args_t):
                raise LiteAttnError(f"liteattn: {path} has sizeof(liteattn_fwd_args_t) = {size}, "
                                    f"the Python mirror has {ctypes.sizeof(liteattn_fwd_args_t)}",
                                    status=None)
            code = 0
            while True:
                name = handle.liteattn_status_name(code).decode()
                if name == "LITEATTN_UNKNOWN_STATUS":
                    break
                STATUS[code] = name
                code += 1
            _lib_path = path
            _lib = handle
    return _lib


def library_path() -> Path:
    lib()
    assert _lib_path is not None
    return _lib_path


def _declare(h: ctypes.CDLL) -> None:
    """Typed stubs: one per function of include/liteattn.h, its C prototype above it."""
    # int liteattn_version(void);
    h.liteattn_version.argtypes = []
    h.liteattn_version.restype = c_int
    # const char *liteattn_status_string(liteattn_status_t status);
    h.liteattn_status_string.argtypes = [c_int]
    h.liteattn_status_string.restype = c_char_p
    # const char *liteattn_status_name(liteattn_status_t status);
    h.liteattn_status_name.argtypes = [c_int]
    h.liteattn_status_name.restype = c_char_p
    # const char *liteattn_last_error(void);
    h.liteattn_last_error.argtypes = []
    h.liteattn_last_error.restype = c_char_p
    # liteattn_status_t liteattn_tile_shape(int64_t head_dim, liteattn_dtype_t dtype,
    #                                       int64_t *block_m, int64_t *block_n);
    h.liteattn_tile_shape.argtypes = [c_int64, c_int, POINTER(c_int64), POINTER(c_int64)]
    h.liteattn_tile_shape.restype = c_int
    # liteattn_status_t liteattn_mask_geometry(int64_t batch, int64_t heads_q, int64_t seqlen_q,
    #                                          int64_t seqlen_k, int64_t head_dim,
    #                                          liteattn_dtype_t dtype,
    #                                          liteattn_mask_geometry_t *geom);
    h.liteattn_mask_geometry.argtypes = [c_int64, c_int64, c_int64, c_int64, c_int64, c_int,
                                         POINTER(liteattn_mask_geometry_t)]
    h.liteattn_mask_geometry.restype = c_int
    # liteattn_status_t liteattn_mask_fill(uint32_t *mask, const liteattn_mask_geometry_t *geom);
    h.liteattn_mask_fill.argtypes = [c_void_p, POINTER(liteattn_mask_geometry_t)]
    h.liteattn_mask_fill.restype = c_int
    # liteattn_status_t liteattn_mask_density(const uint32_t *mask,
    #                                         const liteattn_mask_geometry_t *geom,
    #                                         double *total, float *per_head);
    h.liteattn_mask_density.argtypes = [c_void_p, POINTER(liteattn_mask_geometry_t),
                                        POINTER(c_double), c_void_p]
    h.liteattn_mask_density.restype = c_int
    # liteattn_fwd_args_t liteattn_fwd_args_init_value(void);
    h.liteattn_fwd_args_init_value.argtypes = []
    h.liteattn_fwd_args_init_value.restype = liteattn_fwd_args_t
    # liteattn_status_t liteattn_fwd_check(const liteattn_fwd_args_t *args,
    #                                      liteattn_kernel_t *kernel);
    h.liteattn_fwd_check.argtypes = [POINTER(liteattn_fwd_args_t), POINTER(c_int)]
    h.liteattn_fwd_check.restype = c_int
    # liteattn_status_t liteattn_fwd(const liteattn_fwd_args_t *args, liteattn_stream_t stream);
    h.liteattn_fwd.argtypes = [POINTER(liteattn_fwd_args_t), c_void_p]
    h.liteattn_fwd.restype = c_int
    # const char *liteattn_kernel_name(liteattn_kernel_t kernel);
    h.liteattn_kernel_name.argtypes = [c_int]
    h.liteattn_kernel_name.restype = c_char_p
    # liteattn_status_t liteattn_state_init(liteattn_state_t *state, int64_t batch,
    #                                       int64_t heads_q, int64_t seqlen_q, int64_t seqlen_k,
    #                                       int64_t head_dim, liteattn_dtype_t dtype,
    #                                       uint32_t *masks, size_t masks_words,
    #                                       const liteattn_policy_t *policy);
    h.liteattn_state_init.argtypes = [POINTER(liteattn_state_t), c_int64, c_int64, c_int64,
                                      c_int64, c_int64, c_int, c_void_p, c_size_t,
                                      POINTER(liteattn_policy_t)]
    h.liteattn_state_init.restype = c_int
    # liteattn_status_t liteattn_state_reset(liteattn_state_t *state);
    h.liteattn_state_reset.argtypes = [POINTER(liteattn_state_t)]
    h.liteattn_state_reset.restype = c_int
    # liteattn_status_t liteattn_state_prepare(const liteattn_state_t *state,
    #                                          liteattn_fwd_args_t *args);
    h.liteattn_state_prepare.argtypes = [POINTER(liteattn_state_t), POINTER(liteattn_fwd_args_t)]
    h.liteattn_state_prepare.restype = c_int
    # liteattn_status_t liteattn_state_advance(liteattn_state_t *state);
    h.liteattn_state_advance.argtypes = [POINTER(liteattn_state_t)]
    h.liteattn_state_advance.restype = c_int
    # liteattn_status_t liteattn_fwd_state(liteattn_state_t *state,
    #                                      const liteattn_fwd_args_t *args,
    #                                      liteattn_stream_t stream);
    h.liteattn_fwd_state.argtypes = [POINTER(liteattn_state_t), POINTER(liteattn_fwd_args_t),
                                     c_void_p]
    h.liteattn_fwd_state.restype = c_int
    # const uint32_t *liteattn_state_current_mask(const liteattn_state_t *state);
    h.liteattn_state_current_mask.argtypes = [POINTER(liteattn_state_t)]
    h.liteattn_state_current_mask.restype = c_void_p


# ---------------------------------------------------------------------------------------------
# Helpers over the stubs
# ---------------------------------------------------------------------------------------------
def status_name(code: int) -> str:
    lib()
    return STATUS.get(code, lib().liteattn_status_name(code).decode())


def status_string(code: int) -> str:
    return lib().liteattn_status_string(code).decode()


def last_error() -> str:
    return lib().liteattn_last_error().decode()


def check(status: int, where: str, argument: Optional[str] = None) -> None:
    """Raises LiteAttnError for a non-zero status, with the library's detail text."""
    if status == 0:
        return
    detail = last_error()
    name = status_name(status)
    raise LiteAttnError(f"{where}: {name} ({status_string(status)}): {detail}", status=status,
                        status_name=name, detail=detail, argument=argument)


def version() -> int:
    return lib().liteattn_version()


def tile_shape(head_dim: int, dtype: int) -> tuple:
    bm, bn = c_int64(), c_int64()
    check(lib().liteattn_tile_shape(head_dim, dtype, ctypes.byref(bm), ctypes.byref(bn)),
          "liteattn_tile_shape", "head_dim")
    return bm.value, bn.value


def mask_geometry(batch: int, heads_q: int, seqlen_q: int, seqlen_k: int, head_dim: int,
                  dtype: int) -> liteattn_mask_geometry_t:
    g = liteattn_mask_geometry_t()
    check(lib().liteattn_mask_geometry(batch, heads_q, seqlen_q, seqlen_k, head_dim, dtype,
                                       ctypes.byref(g)), "liteattn_mask_geometry")
    return g


def fwd_args_init() -> liteattn_fwd_args_t:
    return lib().liteattn_fwd_args_init_value()


def kernel_name(kernel: int) -> str:
    return lib().liteattn_kernel_name(kernel).decode()


def ranges_array(ranges, name: str):
    """(ctypes array or None, count) for a sequence of (begin, end) pairs."""
    ranges = [tuple(int(x) for x in r) for r in (ranges or ())]
    for r in ranges:
        if len(r) != 2:
            raise LiteAttnError(f"{name}: each range must be a (begin, end) pair, got {r}",
                                argument=name)
    if len(ranges) > MAX_RANGES:
        raise LiteAttnError(f"{name}: {len(ranges)} ranges, at most {MAX_RANGES} are allowed",
                            argument=name)
    if not ranges:
        return None, 0
    arr = (liteattn_range_t * len(ranges))(*[liteattn_range_t(b, e) for b, e in ranges])
    return arr, len(ranges)


def criterion_code(criterion) -> int:
    if isinstance(criterion, str):
        if criterion.lower() not in CRITERIA:
            raise LiteAttnError(f"criterion = {criterion!r}: use 'mass' or 'peak'",
                                argument="criterion")
        return CRITERIA[criterion.lower()]
    if criterion not in (CRITERION_PEAK, CRITERION_MASS):
        raise LiteAttnError(f"criterion = {criterion!r}: use 'mass' or 'peak'",
                            argument="criterion")
    return int(criterion)
