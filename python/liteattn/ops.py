"""The torch op `liteattn::fwd`: one liteattn call on CPU or CUDA tensors, registered with
torch.library.custom_op so that torch.compile(fullgraph=True) traces it (fake implementation
below) and CUDA graphs capture it (the current stream is passed, nothing synchronizes, the only
allocation is the output through torch's allocator). Mask buffers are int32 tensors holding the
C library's uint32 words; the write mask is declared mutated."""
from __future__ import annotations

import ctypes
import math
from typing import List, Optional, Sequence, Tuple

import torch

from . import _lib
from ._lib import LiteAttnError

_DTYPES = {torch.bfloat16: _lib.DTYPE_BF16, torch.float16: _lib.DTYPE_FP16,
           torch.float32: _lib.DTYPE_FP32}
LAYOUTS = ("bshd", "bhsd")


def dtype_code(dtype: torch.dtype, name: str = "q") -> int:
    code = _DTYPES.get(dtype)
    if code is None:
        raise LiteAttnError(f"{name}.dtype = {dtype}: liteattn takes bfloat16, float16 "
                            "(and float32 on CPU)", argument=name)
    return code


def dims(t: torch.Tensor, layout: str) -> Tuple[int, int, int, int]:
    """(B, S, H, D) of a 4-d tensor in `layout`."""
    if layout == "bshd":
        b, s, h, d = t.shape
    else:
        b, h, s, d = t.shape
    return b, s, h, d


def _describe(t: torch.Tensor, name: str, layout: str) -> _lib.liteattn_tensor_t:
    if t.dim() != 4:
        raise LiteAttnError(f"{name} has shape {tuple(t.shape)}: expected 4 dims ({layout})",
                            argument=name)
    st = t.stride()
    if t.shape[3] > 1 and st[3] != 1:
        raise LiteAttnError(f"{name}: head_dim stride is {st[3]}; the last dim must be "
                            "contiguous (stride 1)", argument=name)
    b, s, h, d = dims(t, layout)
    if layout == "bshd":
        sb, ss, sh = st[0], st[1], st[2]
    else:
        sb, sh, ss = st[0], st[1], st[2]
    return _lib.liteattn_tensor_t(t.data_ptr(), dtype_code(t.dtype, name), b, s, h, d,
                                  sb, ss, sh)


def _check_inputs(q, k, v, read_mask, write_mask, layout, must_do_k, must_do_q):
    if layout not in LAYOUTS:
        raise LiteAttnError(f"layout = {layout!r}: use 'bshd' or 'bhsd'", argument="layout")
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != 4:
            raise LiteAttnError(f"{name} has shape {tuple(t.shape)}: expected 4 dims ({layout})",
                                argument=name)
        if t.device != q.device:
            raise LiteAttnError(f"{name} is on {t.device} but q is on {q.device}", argument=name)
        dtype_code(t.dtype, name)
    if q.device.type not in ("cpu", "cuda"):
        raise LiteAttnError(f"q.device = {q.device}: liteattn runs on cpu or cuda tensors",
                            argument="q")
    for name, m in (("read_mask", read_mask), ("write_mask", write_mask)):
        if m is None:
            continue
        if m.dtype != torch.int32:
            raise LiteAttnError(f"{name}.dtype = {m.dtype}: masks are int32 tensors of uint32 "
                                "words", argument=name)
        if m.device != q.device:
            raise LiteAttnError(f"{name} is on {m.device} but q is on {q.device}", argument=name)
        if not m.is_contiguous():
            raise LiteAttnError(f"{name} must be contiguous", argument=name)
    for name, r in (("must_do_k", must_do_k), ("must_do_q", must_do_q)):
        if len(r) % 2 or len(r) > 2 * _lib.MAX_RANGES:
            raise LiteAttnError(f"{name} = {list(r)}: a flat list of at most "
                                f"{_lib.MAX_RANGES} (begin, end) pairs", argument=name)


def _lse_shape(q: torch.Tensor, layout: str, return_lse: bool) -> Tuple[int, ...]:
    b, s, h, _ = dims(q, layout)
    return (b, h, s) if return_lse else (0,)


@torch.library.custom_op("liteattn::fwd", mutates_args=("write_mask",),
                         device_types=("cpu", "cuda"))
def fwd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, read_mask: Optional[torch.Tensor],
        write_mask: Optional[torch.Tensor], layout: str, scale: float, threshold: float,
        criterion: int, must_do_k: List[int], must_do_q: List[int],
        return_lse: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """Returns (o, lse): o in q's layout and strides, lse [B, Hq, Sq] fp32 (natural log) or an
    empty [0] tensor when return_lse is False. Marks tiles into write_mask (see liteattn.h)."""
    _check_inputs(q, k, v, read_mask, write_mask, layout, must_do_k, must_do_q)
    o = torch.empty_like(q)
    lse = torch.empty(_lse_shape(q, layout, return_lse), dtype=torch.float32, device=q.device)
    a = _lib.fwd_args_init()
    a.q, a.k, a.v, a.o = (_describe(q, "q", layout), _describe(k, "k", layout),
                          _describe(v, "v", layout), _describe(o, "o", layout))
    if return_lse:
        a.lse = ctypes.cast(lse.data_ptr(), ctypes.POINTER(ctypes.c_float))
    a.scale = scale
    a.threshold = threshold
    a.criterion = criterion
    if read_mask is not None:
        a.read_mask = ctypes.cast(read_mask.data_ptr(), ctypes.POINTER(ctypes.c_uint32))
        a.read_mask_words = read_mask.numel()
    if write_mask is not None:
        a.write_mask = ctypes.cast(write_mask.data_ptr(), ctypes.POINTER(ctypes.c_uint32))
        a.write_mask_words = write_mask.numel()
    kr, a.num_must_do_k = _lib.ranges_array(zip(must_do_k[::2], must_do_k[1::2]), "must_do_k")
    qr, a.num_must_do_q = _lib.ranges_array(zip(must_do_q[::2], must_do_q[1::2]), "must_do_q")
    if kr is not None:
        a.must_do_k = ctypes.cast(kr, ctypes.POINTER(_lib.liteattn_range_t))
    if qr is not None:
        a.must_do_q = ctypes.cast(qr, ctypes.POINTER(_lib.liteattn_range_t))
    if q.device.type == "cuda":
        # An explicit CUDA backend: a CPU-only library then fails with BACKEND_UNAVAILABLE
        # instead of reading device memory on the host. The library launches on the current
        # device (and refuses memory of another one), so make q's device current for the call.
        a.backend = _lib.BACKEND_CUDA
        with torch.cuda.device(q.device):
            stream = torch.cuda.current_stream(q.device).cuda_stream
            _lib.check(_lib.lib().liteattn_fwd(ctypes.byref(a), stream), "liteattn_fwd")
    else:
        a.backend = _lib.BACKEND_CPU
        _lib.check(_lib.lib().liteattn_fwd(ctypes.byref(a), None), "liteattn_fwd")
    return o, lse


@fwd.register_fake
def _fwd_fake(q, k, v, read_mask, write_mask, layout, scale, threshold, criterion, must_do_k,
              must_do_q, return_lse):
    _check_inputs(q, k, v, read_mask, write_mask, layout, must_do_k, must_do_q)
    return (torch.empty_like(q),
            q.new_empty(_lse_shape(q, layout, return_lse), dtype=torch.float32))


def flat_ranges(ranges: Optional[Sequence[Tuple[int, int]]]) -> List[int]:
    return [int(x) for r in (ranges or ()) for x in r]


def mask_geometry(q: torch.Tensor, k: torch.Tensor,
                  layout: str = "bshd") -> _lib.liteattn_mask_geometry_t:
    """The C library's mask geometry for these q and k (tile sizes come from the C table)."""
    b, sq, hq, d = dims(q, layout)
    sk = dims(k, layout)[1]
    return _lib.mask_geometry(b, hq, sq, sk, d, dtype_code(q.dtype))


def new_mask(q: torch.Tensor, k: torch.Tensor, layout: str = "bshd",
             count: int = 1) -> torch.Tensor:
    """Zeroed int32 mask storage for `count` masks of q/k's geometry on q's device."""
    g = mask_geometry(q, k, layout)
    return torch.zeros(count * g.words, dtype=torch.int32, device=q.device)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, layout: str = "bshd",
              scale: Optional[float] = None, threshold: float = -math.inf, criterion="mass",
              read_mask: Optional[torch.Tensor] = None, write_mask: Optional[torch.Tensor] = None,
              must_do_k: Sequence[Tuple[int, int]] = (), must_do_q: Sequence[Tuple[int, int]] = (),
              return_lse: bool = False):
    """Stateless liteattn attention on torch tensors (CPU or CUDA); see ops.fwd. For the
    temporal mask reuse across diffusion steps use liteattn.LiteAttention."""
    o, lse = torch.ops.liteattn.fwd(q, k, v, read_mask, write_mask, layout,
                                    0.0 if scale is None else float(scale), float(threshold),
                                    _lib.criterion_code(criterion), flat_ranges(must_do_k),
                                    flat_ranges(must_do_q), bool(return_lse))
    return (o, lse) if return_lse else o
