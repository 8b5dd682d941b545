"""The ctypes binding: one stub per C function of the header, the status table, geometry."""
import ctypes
import re
from pathlib import Path

import pytest

from liteattn import _lib

HEADER = Path(__file__).resolve().parents[2] / "include" / "liteattn.h"


def header_functions():
    text = HEADER.read_text()
    return sorted(set(re.findall(r"LITEATTN_API\s+[^;(]*?\b(liteattn_\w+)\s*\(", text)))


def test_one_stub_per_header_function():
    names = header_functions()
    assert len(names) >= 18
    lib = _lib.lib()
    for name in names:
        fn = getattr(lib, name)
        assert fn.argtypes is not None, f"{name} has no typed stub"
    source = Path(_lib.__file__).read_text()
    for name in names:  # each stub carries its C prototype in a comment above it
        assert re.search(rf"#.*\b{name}\(", source), f"no prototype comment for {name}"


def test_status_table_matches_header():
    text = HEADER.read_text()
    table = dict((int(num), name) for name, num in
                 re.findall(r"X\((LITEATTN_\w+),\s*(\d+),", text))
    _lib.lib()
    assert _lib.STATUS == table
    assert _lib.status_name(10**6) == "LITEATTN_UNKNOWN_STATUS"


def test_struct_sizes_match_library():
    a = _lib.fwd_args_init()
    assert a.struct_size == ctypes.sizeof(_lib.liteattn_fwd_args_t)
    assert a.threshold == float("-inf")
    assert a.criterion == _lib.CRITERION_MASS


def test_geometry_comes_from_library():
    g = _lib.mask_geometry(2, 3, 300, 1000, 64, _lib.DTYPE_BF16)
    bm, bn = _lib.tile_shape(64, _lib.DTYPE_BF16)
    assert (g.block_m, g.block_n) == (bm, bn)
    assert g.tiles_q == -(-300 // bm) and g.tiles_k == -(-1000 // bn)
    assert g.words_per_row == -(-g.tiles_k // 32)
    assert g.rows == 2 * 3 * g.tiles_q and g.words == g.rows * g.words_per_row
    assert g.bytes == 4 * g.words


def test_bad_head_dim_carries_library_message():
    with pytest.raises(_lib.LiteAttnError) as e:
        _lib.tile_shape(12, _lib.DTYPE_FP16)
    assert e.value.status_name == "LITEATTN_ERR_UNSUPPORTED_HEAD_DIM"
    assert "head_dim = 12" in str(e.value) and e.value.detail in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, RuntimeError)


def test_version():
    assert _lib.version() // 100 == 1  # 0.1.x
