"""LiteAttention: state per branch, schedules, policy, reset, re-init, statistics, heatmaps."""
import math
import struct
import zlib

import numpy as np
import pytest
import torch

import liteattn
from liteattn import LiteAttention, LiteAttnError
from qkv import blocky_qkv


def test_dense_call_then_sparse(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0, record_density=True)
    o0 = m(q, k, v)
    torch.testing.assert_close(o0, liteattn.attention(q, k, v))  # first call reads everything
    assert m.density(which="next")[0] == pytest.approx(0.25)
    o1 = m(q, k, v)
    total, per_head = m.density()
    assert total == pytest.approx(0.25) and per_head.shape == (2,)
    assert (o1 - o0).abs().max() < 1e-4
    assert [h["density"] for h in m.history()] == [1.0, 0.25]
    assert m.calls() == 2


def test_threshold_schedules(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=[-math.inf, -4.0], record_density=True)
    for _ in range(3):
        m(q, k, v)
    assert [h["threshold"] for h in m.history()] == [-math.inf, -4.0, -4.0]
    assert [h["density"] for h in m.history()] == [1.0, 1.0, 0.25]
    m = LiteAttention(threshold=lambda call: -math.inf if call < 2 else -4.0,
                      record_density=True)
    for _ in range(4):
        m(q, k, v)
    assert [h["density"] for h in m.history()] == [1.0, 1.0, 1.0, 0.25]


def test_dense_calls_and_refresh(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0, dense_calls=2, refresh_every=3, record_density=True)
    for _ in range(7):
        m(q, k, v)
    # 2 dense calls; then calls counted 0.. after them: 0 (full, refresh), 1, 2, 3 (refresh), 4
    assert [h["density"] for h in m.history()] == [1.0, 1.0, 1.0, 0.25, 0.25, 1.0, 0.25]


def test_density_next_sees_refresh(seed):
    """which='next' is what the next call reads: a full read before a refresh call, although a
    marked mask exists."""
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0, refresh_every=2)
    m(q, k, v)                                    # call 0: full read, marks
    assert m.density(which="next")[0] == pytest.approx(0.25)
    m(q, k, v)                                    # call 1: reads the mask
    assert m.density(which="next")[0] == 1.0      # call 2 is a refresh
    assert m.mask(which="next").all()
    with pytest.raises(LiteAttnError, match="branch"):
        m.mask(branch="nope")


def test_reset_restores_full_mask(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0)
    m(q, k, v)
    m(q, k, v)
    assert m.density()[0] == pytest.approx(0.25)
    m.reset()
    assert m.calls() == 0 and m.density(which="next")[0] == 1.0
    m(q, k, v)
    assert m.density()[0] == 1.0


def test_branches_are_separate(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0)
    m(q, k, v, branch="cond")
    m(q, k, v, branch="cond")
    m(q, k, v, branch="uncond")
    assert m.density("cond")[0] == pytest.approx(0.25)
    assert m.density("uncond")[0] == 1.0  # its first call: nothing inherited from cond
    assert m.calls("cond") == 2 and m.calls("uncond") == 1
    m.reset("cond")
    assert m.calls("cond") == 0 and m.calls("uncond") == 1


def test_batched_guidance_rows_are_separate(seed):
    q1, k1, v1 = blocky_qkv(torch, S=512, seed=seed)
    q2 = torch.randn_like(q1)  # a second batch element with no block structure
    q, k, v = torch.cat([q1, q2]), torch.cat([k1, torch.randn_like(k1)]), torch.cat([v1, v1])
    m = LiteAttention(threshold=-4.0)
    m(q, k, v)
    m(q, k, v)
    per = m.density()[1]
    assert per.shape == (4,) and per[0] == pytest.approx(0.25) and per[2] == 1.0


def test_shape_dtype_change_reinitialises(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0)
    m(q, k, v)
    m(q, k, v)
    q2, k2, v2 = blocky_qkv(torch, S=384, seed=seed)
    o = m(q2, k2, v2)  # a smaller video: new geometry, full first read
    torch.testing.assert_close(o, liteattn.attention(q2, k2, v2))
    assert m.calls() == 1
    o = m(q.half(), k.half(), v.half())
    assert o.dtype == torch.float16 and m.calls() == 1


def test_must_do_ranges_stay_computed(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=0.0, must_do_k=[(0, 10)], must_do_q=[(500, 512)])
    m(q, k, v)
    bits = m.mask()
    assert bits[..., 0].all()  # key tile 0 in every row
    assert bits[:, :, 3, :].all()  # query tile 3 computes everything


def test_bhsd_layout(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0, layout="bhsd")
    t = [x.transpose(1, 2) for x in (q, k, v)]
    m(*t)
    o = m(*t)
    assert o.shape == t[0].shape and m.density()[0] == pytest.approx(0.25)


def test_heatmap_png(tmp_path, seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0)
    m(q, k, v)
    path = tmp_path / "mask.png"
    m.save_heatmap(path, scale=3)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (2 + 2 * (4 * 3 + 2), 2 + 4 * 3 + 2)  # two 4x4-tile panels
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * 3)[:, 1:]
    img = raw.reshape(h, w, 3)
    assert not np.array_equal(img[2, 2], img[2, 2 + 3])  # diagonal tile lit, next one dark


def test_errors_name_argument(seed):
    q, k, v = blocky_qkv(torch, S=64, seed=seed)
    with pytest.raises(LiteAttnError, match="branch"):
        LiteAttention().density("nope")
    with pytest.raises(LiteAttnError, match="policy.dense_calls = -1"):
        LiteAttention(dense_calls=-1)(q, k, v)
    with pytest.raises(LiteAttnError, match="threshold = 0.5"):
        LiteAttention(threshold=0.5)(q, k, v)


def test_policy_change_restarts_branch(seed):
    q, k, v = blocky_qkv(torch, S=512, seed=seed)
    m = LiteAttention(threshold=-4.0, record_density=True)
    m(q, k, v)
    m(q, k, v)
    m.dense_calls = 1
    m(q, k, v)
    m(q, k, v)
    m(q, k, v)
    # restarted: a dense call, a full read that marks, then the mask
    assert [h["density"] for h in m.history()] == [1.0, 1.0, 0.25]
    assert m.calls() == 3
