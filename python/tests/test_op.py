"""The torch op liteattn::fwd on CPU: layouts, dtypes, LSE, masks, fake impl, torch.compile."""
import math

import pytest
import torch
import torch.nn.functional as F

import liteattn
from liteattn import LiteAttnError, ops
from qkv import blocky_qkv


def sdpa_bshd(q, k, v):
    rep = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(rep, 2), v.repeat_interleave(rep, 2)
    return F.scaled_dot_product_attention(*(x.transpose(1, 2).double() for x in (q, k, v))
                                          ).transpose(1, 2)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float16, 2e-3),
                                       (torch.bfloat16, 1.6e-2)])
@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
def test_matches_sdpa(dtype, tol, layout, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 239, 4, 64, generator=g).to(dtype)
    k = torch.randn(2, 113, 2, 64, generator=g).to(dtype)
    v = torch.randn(2, 113, 2, 64, generator=g).to(dtype)
    ref = sdpa_bshd(q, k, v)
    if layout == "bhsd":  # a permuted view: strides, not copies
        o, lse = liteattn.attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                    layout="bhsd", return_lse=True)
        assert o.stride() == q.transpose(1, 2).stride()
        o = o.transpose(1, 2)
    else:
        o, lse = liteattn.attention(q, k, v, return_lse=True)
    assert o.dtype == dtype and lse.shape == (2, 4, 239) and lse.dtype == torch.float32
    torch.testing.assert_close(o.double(), ref, atol=tol, rtol=tol)
    s = torch.einsum("bqhd,bkhd->bhqk", q.double(), k.repeat_interleave(2, 2).double())
    torch.testing.assert_close(lse.double(), torch.logsumexp(s / 8.0, -1), atol=1e-3, rtol=1e-4)


def test_write_mask_is_mutated_and_read_mask_skips(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    w = ops.new_mask(q, k)
    g = ops.mask_geometry(q, k)
    assert w.numel() == g.words and w.dtype == torch.int32
    o_dense = liteattn.attention(q, k, v, threshold=-4.0, write_mask=w)
    from liteattn.numpy_api import mask_density
    assert mask_density(w.numpy().view("uint32"), g, 2)[0] == pytest.approx(0.25)
    o_sparse = liteattn.attention(q, k, v, read_mask=w)
    assert (o_sparse - o_dense).abs().max() < 1e-4  # skipped tiles held ~no mass
    assert not torch.equal(o_sparse, o_dense)


def test_fake_impl_shapes():
    with torch._subclasses.fake_tensor.FakeTensorMode():
        q = torch.empty(1, 4, 100, 64)
        k = torch.empty(1, 2, 50, 64)
        o, lse = torch.ops.liteattn.fwd(q, k, k, None, None, "bhsd", 0.0, -math.inf, 1, [], [],
                                        True)
        assert o.shape == q.shape and o.stride() == q.stride() and lse.shape == (1, 4, 100)


def test_opcheck(seed):
    q, k, v = blocky_qkv(torch, S=256, seed=seed)
    w = ops.new_mask(q, k)
    torch.library.opcheck(torch.ops.liteattn.fwd.default,
                          (q, k, v, None, w, "bshd", 0.0, -2.0, 1, [0, 8], [], True),
                          test_utils=("test_schema", "test_faketensor"))


def test_compile_fullgraph(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    read, write = ops.new_mask(q, k), ops.new_mask(q, k)

    def step(q, k, v, read, write):
        x = liteattn.attention(q * 1.0, k, v, threshold=-4.0, write_mask=read)
        y = liteattn.attention(q, k, v, threshold=-4.0, read_mask=read, write_mask=write)
        return x + y

    eager_r, eager_w = ops.new_mask(q, k), ops.new_mask(q, k)
    ref = step(q, k, v, eager_r, eager_w)
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    out = compiled(q, k, v, read, write)
    torch.testing.assert_close(out, ref)
    assert torch.equal(read, eager_r) and torch.equal(write, eager_w)
    assert torch.count_nonzero(write) > 0


def test_compile_inductor_fullgraph(seed):
    q, k, v = blocky_qkv(torch, S=256, seed=seed)
    w = ops.new_mask(q, k)
    f = torch.compile(lambda q, k, v, w: liteattn.attention(q, k, v, threshold=-4.0,
                                                            write_mask=w) * 2, fullgraph=True)
    out = f(q, k, v, w)
    torch.testing.assert_close(out, liteattn.attention(q, k, v) * 2)
    assert torch.count_nonzero(w) > 0


@pytest.mark.parametrize("make,argument,text", [
    (lambda q, k, v: (q.double(), k, v), "q", "q.dtype = torch.float64"),
    (lambda q, k, v: (q, k.half(), v), None, "LITEATTN_ERR_DTYPE_MISMATCH"),
    (lambda q, k, v: (q[..., ::2], k[..., ::2], v[..., ::2]), "q", "contiguous"),
    (lambda q, k, v: (q[:, :, :3], k[:, :, :2], v[:, :, :2]), None, "q.heads = 3"),
    (lambda q, k, v: (q[..., :12], k[..., :12], v[..., :12]), None, "head_dim = 12"),
    (lambda q, k, v: (q[0], k[0], v[0]), "q", "expected 4 dims"),
    (lambda q, k, v: (q, k.to("meta"), v), "k", "k is on meta"),
])
def test_bad_input(make, argument, text, seed):
    q, k, v = blocky_qkv(torch, S=64, H=4, seed=seed)
    with pytest.raises(LiteAttnError, match=text) as e:
        liteattn.attention(*make(q, k, v))
    if argument:
        assert e.value.argument == argument


def test_bad_masks_and_ranges(seed):
    q, k, v = blocky_qkv(torch, S=64, seed=seed)
    with pytest.raises(LiteAttnError, match="write_mask.dtype"):
        liteattn.attention(q, k, v, write_mask=torch.zeros(2, dtype=torch.int64))
    with pytest.raises(LiteAttnError, match="LITEATTN_ERR_MASK_SIZE"):
        liteattn.attention(q, k, v, write_mask=torch.zeros(5, dtype=torch.int32))
    m = ops.new_mask(q, k, count=2)
    with pytest.raises(LiteAttnError, match="read_mask must be contiguous"):
        liteattn.attention(q, k, v, read_mask=m[::2])
    with pytest.raises(LiteAttnError, match="must_do_k"):
        liteattn.attention(q, k, v, must_do_k=[(10, 5)])
    with pytest.raises(LiteAttnError, match="threshold = 0.5"):
        liteattn.attention(q, k, v, threshold=0.5)
    with pytest.raises(LiteAttnError, match="criterion"):
        liteattn.attention(q, k, v, criterion="max")
    with pytest.raises(LiteAttnError, match="layout = 'bsdh'") as e:
        liteattn.attention(q, k, v, layout="bsdh")
    assert e.value.argument == "layout"
