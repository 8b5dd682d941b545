"""numpy entry point (CPU backend) against an fp64 naive reference, masks and the host State."""
import math

import numpy as np
import pytest

import liteattn
from liteattn import LiteAttnError, numpy_api as na


def naive(q, k, v, key_mask=None):
    """fp64 attention over [B, S, H, D] arrays (GQA by head repeat); key_mask [B, H, Sq, Sk]."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    rep = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, rep, axis=2), np.repeat(v, rep, axis=2)
    s = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[3])
    if key_mask is not None:
        s = np.where(key_mask, s, -np.inf)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    lse = (np.log(p.sum(-1)) + m[..., 0])
    return np.einsum("bhqk,bkhd->bqhd", p / p.sum(-1, keepdims=True), v), lse


def rand(shape, dtype, rng):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("B,Sq,Sk,Hq,Hkv,D,dtype", [
    (1, 1, 1, 1, 1, 64, np.float32),
    (2, 113, 239, 4, 2, 64, np.float16),
    (1, 300, 300, 2, 1, 128, np.float32),
])
def test_matches_naive(B, Sq, Sk, Hq, Hkv, D, dtype, seed):
    rng = np.random.default_rng(seed)
    q, k, v = rand((B, Sq, Hq, D), dtype, rng), rand((B, Sk, Hkv, D), dtype, rng), \
        rand((B, Sk, Hkv, D), dtype, rng)
    o, lse = liteattn.attention_numpy(q, k, v, return_lse=True)
    ref, ref_lse = naive(q, k, v)
    tol = 2e-3 if dtype == np.float16 else 1e-5
    assert o.dtype == dtype and o.shape == q.shape
    np.testing.assert_allclose(o.astype(np.float64), ref, atol=tol, rtol=tol)
    np.testing.assert_allclose(lse, ref_lse, atol=1e-4, rtol=1e-4)


def test_bhsd_and_padded_strides(seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rand((1, 200, 3, 64), np.float32, rng) for _ in range(3))
    ref = liteattn.attention_numpy(q, k, v)
    t = [np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in (q, k, v)]
    o = liteattn.attention_numpy(*t, layout="bhsd")
    np.testing.assert_array_equal(o.transpose(0, 2, 1, 3), ref)
    padded = [np.zeros((1, 200, 5, 72), np.float32) for _ in range(3)]
    for p, x in zip(padded, (q, k, v)):
        p[:, :, 1:4, :64] = x
    views = [p[:, :, 1:4, :64] for p in padded]
    np.testing.assert_array_equal(liteattn.attention_numpy(*views), ref)


def test_write_mask_then_read_mask(seed):
    import torch
    from qkv import blocky_qkv
    q, k, v = (x.numpy() for x in blocky_qkv(torch, S=512, seed=seed))
    g = na.geometry(1, 2, 512, 512, 64, np.float32)
    w = np.zeros(g.words, np.uint32)
    liteattn.attention_numpy(q, k, v, threshold=-4.0, write_mask=w)
    bits = na.mask_bits(w, g, 1, 2)
    assert bits.shape == (1, 2, 4, 4)
    np.testing.assert_array_equal(bits[0, 0], np.eye(4, dtype=bool))  # only diagonal tiles
    total, per_head = na.mask_density(w, g, 2)
    assert total == pytest.approx(0.25) and per_head.tolist() == [0.25, 0.25]
    o = liteattn.attention_numpy(q, k, v, read_mask=w)
    key_mask = np.repeat(np.repeat(bits, 128, 2), 128, 3)
    ref, _ = naive(q, k, v, key_mask)
    np.testing.assert_allclose(o, ref, atol=1e-5, rtol=1e-5)
    full = na.full_mask(g)
    assert na.mask_density(full, g, 2)[0] == 1.0


def test_must_do_keys_are_kept(seed):
    import torch
    from qkv import blocky_qkv
    q, k, v = (x.numpy() for x in blocky_qkv(torch, S=512, seed=seed))
    g = na.geometry(1, 2, 512, 512, 64, np.float32)
    w = np.zeros(g.words, np.uint32)
    liteattn.attention_numpy(q, k, v, threshold=0.0, write_mask=w, must_do_k=[(500, 512)])
    bits = na.mask_bits(w, g, 1, 2)
    assert bits[..., 3].all()  # the tile holding keys 500..511 stays in every row


def test_state_ping_pong_and_reset(seed):
    import torch
    from qkv import blocky_qkv
    q, k, v = (x.numpy() for x in blocky_qkv(torch, S=512, seed=seed))
    st = na.State(1, 2, 512, 512, 64, np.float32)
    assert st.current_mask() is None
    o1 = st(q, k, v, threshold=-4.0)
    m1 = st.current_mask().copy()
    assert na.mask_density(m1, st.geom, 2)[0] == pytest.approx(0.25)
    st(q, k, v, threshold=-4.0)
    np.testing.assert_array_equal(st.current_mask(), m1)  # the skip set only shrinks
    assert st.calls == 2
    st.reset()
    assert st.current_mask() is None and st.calls == 0
    np.testing.assert_array_equal(st(q, k, v, threshold=-4.0), o1)


@pytest.mark.parametrize("mutate,argument,status", [
    (lambda q, k, v: (q.astype(np.float64), k, v), "q", None),
    (lambda q, k, v: (q[..., ::2], k[..., ::2], v[..., ::2]), "q", None),
    (lambda q, k, v: (q[:, :, :, :12].copy(), k[..., :12].copy(), v[..., :12].copy()), None,
     "LITEATTN_ERR_UNSUPPORTED_HEAD_DIM"),
    (lambda q, k, v: (q[:, :, :3].copy(), k[:, :, :2].copy(), v[:, :, :2].copy()), None,
     "LITEATTN_ERR_BAD_GQA"),
    (lambda q, k, v: (q, k[:, :10], v), None, "LITEATTN_ERR_BAD_SHAPE"),
])
def test_bad_input_names_argument(mutate, argument, status, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rand((1, 16, 4, 64), np.float32, rng) for _ in range(3))
    q2, k2, v2 = mutate(q, k, v)
    with pytest.raises(LiteAttnError) as e:
        liteattn.attention_numpy(q2, k2, v2)
    if argument:
        assert e.value.argument == argument and str(e.value).startswith(argument)
    if status:
        assert e.value.status_name == status and e.value.detail
        assert e.value.detail in str(e.value)


def test_bad_threshold_and_mask_size(seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rand((1, 16, 1, 64), np.float32, rng) for _ in range(3))
    with pytest.raises(LiteAttnError, match="threshold = 1"):
        liteattn.attention_numpy(q, k, v, threshold=1.0)
    with pytest.raises(LiteAttnError, match="write_mask_words = 3"):
        liteattn.attention_numpy(q, k, v, write_mask=np.zeros(3, np.uint32))
