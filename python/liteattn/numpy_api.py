"""numpy entry point for the CPU backend: one attention call over host arrays, mask helpers, and a
host-side State (the C liteattn_state_t over a numpy ping-pong buffer). No torch needed."""
from __future__ import annotations

import ctypes
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from . import _lib
from ._lib import LiteAttnError

_NP_DTYPES = {np.dtype(np.float16): _lib.DTYPE_FP16, np.dtype(np.float32): _lib.DTYPE_FP32}


def _dtype_code(arr: np.ndarray, name: str) -> int:
    code = _NP_DTYPES.get(arr.dtype)
    if code is None:
        raise LiteAttnError(f"{name}.dtype = {arr.dtype}: the numpy entry point takes float16 or "
                            "float32 (bf16 through torch)", argument=name)
    return code


def describe(arr: np.ndarray, name: str, layout: str) -> _lib.liteattn_tensor_t:
    """liteattn_tensor_t over a 4-d array in `layout` ('bshd' or 'bhsd'), strides in elements."""
    if not isinstance(arr, np.ndarray):
        raise LiteAttnError(f"{name} must be a numpy array, got {type(arr).__name__}",
                            argument=name)
    if arr.ndim != 4:
        raise LiteAttnError(f"{name} has shape {arr.shape}: expected 4 dims ({layout})",
                            argument=name)
    code = _dtype_code(arr, name)
    item = arr.itemsize
    if any(s % item for s in arr.strides) or any(s < 0 for s in arr.strides):
        raise LiteAttnError(f"{name} strides {arr.strides} (bytes) are not non-negative "
                            f"multiples of the element size {item}", argument=name)
    st = [s // item for s in arr.strides]
    if arr.shape[3] > 1 and st[3] != 1:
        raise LiteAttnError(f"{name}: last dim (head_dim) stride is {st[3]} elements; it must be "
                            "contiguous (1)", argument=name)
    if layout == "bshd":
        b, s, h, d = arr.shape
        sb, ss, sh = st[0], st[1], st[2]
    elif layout == "bhsd":
        b, h, s, d = arr.shape
        sb, sh, ss = st[0], st[1], st[2]
    else:
        raise LiteAttnError(f"layout = {layout!r}: use 'bshd' or 'bhsd'", argument="layout")
    return _lib.liteattn_tensor_t(arr.ctypes.data, code, b, s, h, d, sb, ss, sh)


def geometry(batch: int, heads_q: int, seqlen_q: int, seqlen_k: int, head_dim: int,
             dtype=np.float16) -> _lib.liteattn_mask_geometry_t:
    """The mask geometry the C library gives for these shapes (dtype: numpy dtype or code)."""
    code = dtype if isinstance(dtype, int) else _dtype_code(np.empty(0, dtype), "dtype")
    return _lib.mask_geometry(batch, heads_q, seqlen_q, seqlen_k, head_dim, code)


def full_mask(geom: _lib.liteattn_mask_geometry_t) -> np.ndarray:
    """A host mask with every tile set (liteattn_mask_fill)."""
    m = np.zeros(geom.words, dtype=np.uint32)
    _lib.check(_lib.lib().liteattn_mask_fill(m.ctypes.data, ctypes.byref(geom)),
               "liteattn_mask_fill", "mask")
    return m


def mask_density(mask: np.ndarray, geom: _lib.liteattn_mask_geometry_t,
                 heads: int) -> Tuple[float, np.ndarray]:
    """(total density, per-(b, hq) densities as an array of B*Hq floats) of a host mask."""
    mask = np.ascontiguousarray(mask).view(np.uint32)
    if mask.size != geom.words:
        raise LiteAttnError(f"mask has {mask.size} words, the geometry has {geom.words}",
                            argument="mask")
    total = ctypes.c_double()
    per_head = np.zeros(geom.rows // geom.tiles_q, dtype=np.float32)
    _lib.check(_lib.lib().liteattn_mask_density(mask.ctypes.data, ctypes.byref(geom),
                                                ctypes.byref(total), per_head.ctypes.data),
               "liteattn_mask_density", "mask")
    return total.value, per_head


def mask_bits(mask: np.ndarray, geom: _lib.liteattn_mask_geometry_t, batch: int,
              heads: int) -> np.ndarray:
    """Unpacks a mask into a bool array [B, Hq, Tq, Tk] (bit j%32 of word j/32)."""
    words = np.ascontiguousarray(mask).view(np.uint32).reshape(geom.rows, geom.words_per_row)
    bits = (words[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1
    bits = bits.reshape(geom.rows, geom.words_per_row * 32)[:, :geom.tiles_k].astype(bool)
    return bits.reshape(batch, heads, geom.tiles_q, geom.tiles_k)


def _check_mask(mask: Optional[np.ndarray], name: str):
    if mask is None:
        return None, 0
    if not isinstance(mask, np.ndarray) or mask.dtype not in (np.uint32, np.int32):
        raise LiteAttnError(f"{name} must be a numpy uint32 array", argument=name)
    if not mask.flags.c_contiguous:
        raise LiteAttnError(f"{name} must be contiguous", argument=name)
    return ctypes.cast(mask.ctypes.data, ctypes.POINTER(ctypes.c_uint32)), mask.size


def _make_args(q, k, v, layout, scale, threshold, criterion, must_do_k, must_do_q, return_lse):
    """(args, o, lse, keep-alive) for one CPU call over numpy arrays."""
    a = _lib.fwd_args_init()
    a.q, a.k, a.v = describe(q, "q", layout), describe(k, "k", layout), describe(v, "v", layout)
    o = np.empty_like(q)
    a.o = describe(o, "o", layout)
    lse = None
    if return_lse:
        lse = np.empty((a.q.batch, a.q.heads, a.q.seqlen), dtype=np.float32)
        a.lse = ctypes.cast(lse.ctypes.data, ctypes.POINTER(ctypes.c_float))
    a.scale = 0.0 if scale is None else float(scale)
    a.threshold = float(threshold)
    a.criterion = _lib.criterion_code(criterion)
    kr, a.num_must_do_k = _lib.ranges_array(must_do_k, "must_do_k")
    qr, a.num_must_do_q = _lib.ranges_array(must_do_q, "must_do_q")
    if kr is not None:
        a.must_do_k = ctypes.cast(kr, ctypes.POINTER(_lib.liteattn_range_t))
    if qr is not None:
        a.must_do_q = ctypes.cast(qr, ctypes.POINTER(_lib.liteattn_range_t))
    a.backend = _lib.BACKEND_CPU
    return a, o, lse, (kr, qr)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, layout: str = "bshd",
              scale: Optional[float] = None, threshold: float = -math.inf,
              criterion="mass", read_mask: Optional[np.ndarray] = None,
              write_mask: Optional[np.ndarray] = None,
              must_do_k: Sequence[Tuple[int, int]] = (),
              must_do_q: Sequence[Tuple[int, int]] = (), return_lse: bool = False):
    """One liteattn call on the CPU backend over numpy arrays (float16 or float32).

    q [B, Sq, Hq, D] (or [B, Hq, Sq, D] with layout='bhsd'), k/v likewise with Sk/Hkv. Returns o
    in q's layout (and lse [B, Hq, Sq] float32, natural log, if return_lse). `write_mask`, if
    given, is filled with the tiles the call marks (see include/liteattn.h)."""
    a, o, lse, keep = _make_args(q, k, v, layout, scale, threshold, criterion, must_do_k,
                                 must_do_q, return_lse)
    a.read_mask, a.read_mask_words = _check_mask(read_mask, "read_mask")
    a.write_mask, a.write_mask_words = _check_mask(write_mask, "write_mask")
    _lib.check(_lib.lib().liteattn_fwd(ctypes.byref(a), None), "liteattn_fwd")
    return (o, lse) if return_lse else o


class State:
    """liteattn_state_t over a host ping-pong buffer: one per layer and guidance branch."""

    def __init__(self, batch: int, heads_q: int, seqlen_q: int, seqlen_k: int, head_dim: int,
                 dtype=np.float16, dense_calls: int = 0, refresh_every: int = 0):
        code = dtype if isinstance(dtype, int) else _dtype_code(np.empty(0, dtype), "dtype")
        self.geom = _lib.mask_geometry(batch, heads_q, seqlen_q, seqlen_k, head_dim, code)
        self.masks = np.zeros(2 * self.geom.words, dtype=np.uint32)
        self.policy = _lib.liteattn_policy_t(dense_calls, refresh_every)
        self.c = _lib.liteattn_state_t()
        _lib.check(_lib.lib().liteattn_state_init(
            ctypes.byref(self.c), batch, heads_q, seqlen_q, seqlen_k, head_dim, code,
            self.masks.ctypes.data, self.masks.size, ctypes.byref(self.policy)),
            "liteattn_state_init")
        self.heads = heads_q
        self.batch = batch

    def reset(self) -> None:
        _lib.check(_lib.lib().liteattn_state_reset(ctypes.byref(self.c)), "liteattn_state_reset")

    @property
    def calls(self) -> int:
        return self.c.calls

    def current_mask(self) -> Optional[np.ndarray]:
        """The mask the last call wrote (a view into the ping-pong buffer), None if full."""
        p = _lib.lib().liteattn_state_current_mask(ctypes.byref(self.c))
        if not p:
            return None
        off = (p - self.masks.ctypes.data) // 4
        return self.masks[off:off + self.geom.words]

    def __call__(self, q, k, v, *, layout="bshd", scale=None, threshold=-10.0, criterion="mass",
                 must_do_k=(), must_do_q=(), return_lse=False):
        """One call through the state: it picks the read/write masks and advances."""
        a, o, lse, keep = _make_args(q, k, v, layout, scale, threshold, criterion, must_do_k,
                                     must_do_q, return_lse)
        _lib.check(_lib.lib().liteattn_fwd_state(ctypes.byref(self.c), ctypes.byref(a), None),
                   "liteattn_fwd_state")
        return (o, lse) if return_lse else o
