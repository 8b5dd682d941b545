"""The torch op and LiteAttention on CUDA tensors: against the CPU spec and SDPA, streams, no
host synchronization, CUDA graph capture and replay, torch.compile (inductor and cudagraphs)."""
import math

import pytest
import torch
import torch.nn.functional as F

import liteattn
from liteattn import LiteAttention, LiteAttnError, ops
from liteattn.numpy_api import mask_density
from qkv import blocky_qkv

DEV = "cuda"
TOL = {torch.bfloat16: 2e-2, torch.float16: 4e-3}


def sdpa_bshd(q, k, v):
    rep = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(rep, 2), v.repeat_interleave(rep, 2)
    return F.scaled_dot_product_attention(*(x.transpose(1, 2).float() for x in (q, k, v))
                                          ).transpose(1, 2)


def host_density(mask, q, k):
    g = ops.mask_geometry(q, k)
    return mask_density(mask.cpu().numpy().view("uint32"), g, q.shape[2])[0]


@pytest.mark.parametrize("D", [64, 128])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", [(1, 1023, 1023, 8, 1), (2, 300, 1023, 4, 2),
                                   (1, 4224, 4224, 2, 2)])
@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
def test_matches_cpu_and_sdpa(D, dtype, shape, layout, seed):
    B, Sq, Sk, Hq, Hkv = shape
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, Sq, Hq, D, generator=g).to(dtype)
    k = torch.randn(B, Sk, Hkv, D, generator=g).to(dtype)
    v = torch.randn(B, Sk, Hkv, D, generator=g).to(dtype)

    def call(q, k, v):
        if layout == "bhsd":
            o, lse = liteattn.attention(*(x.transpose(1, 2) for x in (q, k, v)), layout="bhsd",
                                        return_lse=True)
            return o.transpose(1, 2), lse
        return liteattn.attention(q, k, v, return_lse=True)

    o_gpu, lse_gpu = call(q.to(DEV), k.to(DEV), v.to(DEV))
    o_cpu, lse_cpu = call(q, k, v)
    torch.testing.assert_close(o_gpu.cpu().float(), o_cpu.float(), atol=TOL[dtype],
                               rtol=TOL[dtype])
    torch.testing.assert_close(lse_gpu.cpu(), lse_cpu, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(o_gpu.float(), sdpa_bshd(q, k, v).to(DEV), atol=TOL[dtype],
                               rtol=TOL[dtype])


@pytest.mark.parametrize("D", [64, 128])
def test_marks_match_cpu(D, seed):
    q, k, v = blocky_qkv(torch, S=1024, H=4, D=D, dtype=torch.bfloat16, seed=seed)
    w_cpu = ops.new_mask(q, k)
    liteattn.attention(q, k, v, threshold=-6.0, write_mask=w_cpu)
    qd, kd, vd = q.to(DEV), k.to(DEV), v.to(DEV)
    w_gpu = ops.new_mask(qd, kd)
    liteattn.attention(qd, kd, vd, threshold=-6.0, write_mask=w_gpu)
    differ = (w_gpu.cpu() != w_cpu).sum().item()
    assert differ <= max(1, w_cpu.numel() // 100)  # only tiles within rounding of thr
    assert host_density(w_gpu, qd, kd) < 0.5
    o_sparse = liteattn.attention(qd, kd, vd, read_mask=w_gpu)
    o_cpu = liteattn.attention(q, k, v, read_mask=w_gpu.cpu())
    torch.testing.assert_close(o_sparse.cpu().float(), o_cpu.float(), atol=2e-2, rtol=2e-2)


def test_runs_on_current_stream(seed):
    q, k, v = blocky_qkv(torch, S=1024, D=128, dtype=torch.bfloat16, seed=seed, device=DEV)
    ref = liteattn.attention(q, k, v)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            o = liteattn.attention(q, k, v)
    torch.cuda.current_stream().wait_stream(s)
    torch.testing.assert_close(o, ref, atol=0, rtol=0)  # deterministic


def test_module_no_sync_after_first_call(seed):
    q, k, v = blocky_qkv(torch, S=2048, D=128, dtype=torch.bfloat16, seed=seed, device=DEV)
    m = LiteAttention(threshold=-6.0)
    m(q, k, v)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            m(q, k, v)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    total, per_head = m.density()
    assert total < 0.5 and per_head.shape == (2,)


def test_module_state_on_device(tmp_path, seed):
    q, k, v = blocky_qkv(torch, S=1024, D=64, dtype=torch.float16, seed=seed, device=DEV)
    m = LiteAttention(threshold=-6.0, record_density=True)
    for _ in range(3):
        o = m(q, k, v, branch="cond")
    b = m._branches["cond"]
    assert b.masks.device == q.device
    assert [h["density"] for h in m.history("cond")][0] == 1.0
    assert m.history("cond")[-1]["density"] < 0.5
    torch.testing.assert_close(o.float(), sdpa_bshd(q, k, v), atol=4e-3, rtol=4e-3)
    m(q, k, v, branch="uncond")
    assert m.density("uncond")[0] == 1.0
    m.reset()
    m(q.cpu(), k.cpu(), v.cpu(), branch="cond")  # device change: a new CPU state
    assert m._branches["cond"].masks.device.type == "cpu" and m.calls("cond") == 1
    m.save_heatmap(tmp_path / "m.png", branch="cond")
    assert (tmp_path / "m.png").stat().st_size > 0


def test_graph_capture_and_replay(seed):
    q0, k0, v0 = blocky_qkv(torch, S=2048, D=128, dtype=torch.bfloat16, seed=seed, device=DEV)
    q1, k1, v1 = blocky_qkv(torch, S=2048, D=128, dtype=torch.bfloat16, seed=seed + 1,
                            device=DEV)
    sq, sk, sv = q0.clone(), k0.clone(), v0.clone()
    read, write = ops.new_mask(sq, sk), ops.new_mask(sq, sk)
    liteattn.attention(sq, sk, sv, threshold=-6.0, write_mask=read)  # a mask to read

    def step():
        return liteattn.attention(sq, sk, sv, threshold=-6.0, read_mask=read, write_mask=write,
                                  return_lse=True)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        step()  # warm-up outside capture
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        o_static, lse_static = step()
    for q, k, v in ((q1, k1, v1), (q0, k0, v0)):
        sq.copy_(q), sk.copy_(k), sv.copy_(v)
        write.zero_()
        graph.replay()
        w_eager = ops.new_mask(q, k)
        o, lse = liteattn.attention(q, k, v, threshold=-6.0, read_mask=read, write_mask=w_eager,
                                    return_lse=True)
        torch.testing.assert_close(o_static, o, atol=0, rtol=0)
        torch.testing.assert_close(lse_static, lse, atol=0, rtol=0)
        assert torch.equal(write, w_eager)


def test_ping_pong_graphs_follow_module(seed):
    """Two captured graphs (read A write B, read B write A) replayed alternately give what the
    module gives call by call: the state's halves are fixed device buffers."""
    qs = [blocky_qkv(torch, S=2048, D=128, dtype=torch.bfloat16, seed=seed + i, device=DEV)
          for i in range(4)]
    sq, sk, sv = (x.clone() for x in qs[0])
    ab = ops.new_mask(sq, sk, count=2)
    n = ab.numel() // 2
    halves = (ab[:n], ab[n:])
    liteattn.attention(sq, sk, sv, threshold=-6.0, write_mask=halves[0])
    graphs, outs = [], []
    for i in range(2):
        def step(i=i):
            return liteattn.attention(sq, sk, sv, threshold=-6.0, read_mask=halves[i],
                                      write_mask=halves[1 - i])
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            outs.append(step())
        graphs.append(g)
    m = LiteAttention(threshold=-6.0)
    m(*qs[0])  # call 0: full read, marks (like the eager warm-up above)
    liteattn.attention(sq, sk, sv, threshold=-6.0, write_mask=halves[0])
    for i, (q, k, v) in enumerate(qs[1:]):
        sq.copy_(q), sk.copy_(k), sv.copy_(v)
        graphs[i % 2].replay()
        torch.testing.assert_close(outs[i % 2], m(q, k, v), atol=0, rtol=0)


def test_compile_fullgraph_inductor(seed):
    q, k, v = blocky_qkv(torch, S=2048, D=128, dtype=torch.bfloat16, seed=seed, device=DEV)
    read, write = ops.new_mask(q, k), ops.new_mask(q, k)
    liteattn.attention(q, k, v, threshold=-6.0, write_mask=read)

    def f(q, k, v, read, write):
        o = liteattn.attention(q * 1.0, k, v, threshold=-6.0, read_mask=read, write_mask=write)
        return o.float().sum(-1)

    w_ref = ops.new_mask(q, k)
    ref = f(q, k, v, read, w_ref)
    out = torch.compile(f, fullgraph=True)(q, k, v, read, write)
    torch.testing.assert_close(out, ref, atol=1e-2, rtol=1e-2)
    assert torch.equal(write, w_ref)


def test_compile_reduce_overhead_cudagraphs(seed):
    q, k, v = blocky_qkv(torch, S=2048, D=128, dtype=torch.bfloat16, seed=seed, device=DEV)
    w = ops.new_mask(q, k)

    def f(q, k, v, w):
        return liteattn.attention(q, k, v, threshold=-6.0, write_mask=w) * 2

    cf = torch.compile(f, fullgraph=True, mode="reduce-overhead")
    for _ in range(3):  # warm-up, record, replay
        w.zero_()
        out = cf(q, k, v, w)
    w_ref = ops.new_mask(q, k)
    torch.testing.assert_close(out, f(q, k, v, w_ref), atol=0, rtol=0)
    assert torch.equal(w, w_ref) and host_density(w, q, k) < 0.5


def test_bad_input_on_cuda(seed):
    q, k, v = blocky_qkv(torch, S=256, D=64, dtype=torch.bfloat16, seed=seed, device=DEV)
    with pytest.raises(LiteAttnError, match="k is on cpu") as e:
        liteattn.attention(q, k.cpu(), v)
    assert e.value.argument == "k"
    with pytest.raises(LiteAttnError, match="write_mask is on cpu"):
        liteattn.attention(q, k, v, write_mask=ops.new_mask(q.cpu(), k.cpu()))
    with pytest.raises(LiteAttnError, match="threshold"):
        liteattn.attention(q, k, v, threshold=math.nan)


def test_odd_head_dim_is_exact_or_refused(seed):
    """D = 16 or 80 on CUDA: either computed correctly or refused with a status, never a crash
    or a wrong answer."""
    for D in (16, 80):
        q, k, v = blocky_qkv(torch, S=300, D=D, dtype=torch.bfloat16, seed=seed, device=DEV)
        try:
            o = liteattn.attention(q, k, v)
        except LiteAttnError as e:
            assert e.status_name in ("LITEATTN_ERR_UNSUPPORTED_HEAD_DIM",
                                     "LITEATTN_ERR_BACKEND_UNAVAILABLE") and e.detail
        else:
            torch.testing.assert_close(o.float(), sdpa_bshd(q, k, v), atol=2e-2, rtol=2e-2)
