#!/usr/bin/env python3
"""sm90_bench.py — checks the Hopper kernel against the CPU spec backend on fresh random inputs,
then times it against torch SDPA (cuDNN backend) in the same process on the same inputs.

Usage: python3 bench/sm90/sm90_bench.py LIB [--check] [--bench] [--quick] [--seed N]
LIB is build-sm90/libsm90h.so (bench/sm90/sm90_shim.c + the library's core, CPU and sm90 code).
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

import torch

BF16, FP16 = 0, 1
PEAK, MASS = 0, 1
TDT = {BF16: torch.bfloat16, FP16: torch.float16}


class Lib:
    def __init__(self, path):
        self.l = ctypes.CDLL(path)
        f = self.l.la_sm90h_run
        P, I, F = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
        f.argtypes = [I, I, I, I, P, P, P, P, P, P, P, F, P, P, F, I, P, I, P, I, P]
        f.restype = I
        self.l.liteattn_last_error.restype = ctypes.c_char_p
        g = self.l.liteattn_mask_geometry
        g.argtypes = [ctypes.c_int64] * 5 + [I, P]
        g.restype = I

    def geometry(self, B, Hq, Sq, Sk, D, dt):
        buf = (ctypes.c_int64 * 8)()
        st = self.l.liteattn_mask_geometry(B, Hq, Sq, Sk, D, dt, buf)
        assert st == 0, self.err()
        return dict(BM=buf[0], BN=buf[1], Tq=buf[2], Tk=buf[3], W=buf[4], rows=buf[5],
                    words=buf[6])

    def err(self):
        return self.l.liteattn_last_error().decode()

    def run(self, kernel, dt, q, k, v, o, lse, rmask=None, wmask=None, thr=-math.inf, crit=MASS,
            must_k=(), must_q=(), pp=1, persist=1, scale=0.0):
        B, Sq, Hq, D = q.shape
        Sk, Hkv = k.shape[1], k.shape[2]
        shape = (ctypes.c_int64 * 6)(B, Sq, Sk, Hq, Hkv, D)
        st = []
        for t in (q, k, v, o):
            st += [t.stride(0), t.stride(1), t.stride(2)]
        strides = (ctypes.c_int64 * 12)(*st)
        mk = (ctypes.c_int64 * 16)(*[x for r in must_k for x in r])
        mq = (ctypes.c_int64 * 16)(*[x for r in must_q for x in r])
        ptr = lambda t: None if t is None else t.data_ptr()
        r = self.l.la_sm90h_run(kernel, pp, persist, dt, q.data_ptr(), k.data_ptr(),
                                v.data_ptr(), o.data_ptr(), ptr(lse), shape, strides, scale,
                                ptr(rmask), ptr(wmask), thr, crit, mk, len(must_k), mq,
                                len(must_q), None)
        if r != 0:
            raise RuntimeError("liteattn status %d: %s" % (r, self.err()))


def make(B, S, H, D, layout, dt, dev, gen, values=None):
    """A [B, S, H, D] tensor in the given memory layout (bshd, bhsd, padded): random normal, or a
    copy of `values` (a float [B, S, H, D] tensor) laid out that way."""
    shape = {"bshd": (B, S, H, D), "bhsd": (B, H, S, D), "padded": (B, S, H, D + 8)}[layout]
    full = torch.randn(shape, generator=gen, device=gen.device).to(TDT[dt]).to(dev)
    t = {"bshd": full, "bhsd": full.transpose(1, 2), "padded": full[..., :D]}[layout]
    if values is not None:
        t.copy_(values.to(t.device))
    return t


def scored_qk(B, Sq, Sk, Hq, Hkv, D, gen):
    """Float q, k whose scores vary from key tile to key tile (a shared direction u, scaled per
    128-key tile), so that marking finds negligible tiles and keeps others."""
    u = torch.randn(D, generator=gen)
    q = torch.randn(B, Sq, Hq, D, generator=gen) + u
    beta = torch.rand((Sk + 127) // 128, generator=gen) * 2 - 1
    beta = beta.repeat_interleave(128)[:Sk].view(1, Sk, 1, 1)
    k = torch.randn(B, Sk, Hkv, D, generator=gen) * 0.5 + beta * u * 0.6
    return q, k


def empty_like_layout(t, dev, fill, odd=False):
    """An output with t's shape and strides (same layout), filled with `fill` (poison). odd: its
    own [B, S, H, D + 2] layout instead (even strides that are not 16-byte multiples: legal for
    the kernel's plain stores, not for a TMA store)."""
    if odd:
        B, S, H, D = t.shape
        o = torch.empty(B, S, H, D + 2, dtype=t.dtype, device=dev)[..., :D]
    else:
        o = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=dev)
    o.fill_(fill)
    return o


def host_copy(t):
    """Host tensor with the same strides (and so the same layout) as t."""
    h = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="cpu")
    h.copy_(t)
    return h


def random_mask(geom, density, gen, empty_rows=0):
    """uint32 mask words: each tile set with probability `density`; `empty_rows` rows all 0."""
    Tk, W, rows = geom["Tk"], geom["W"], geom["rows"]
    bits = torch.rand(rows, W * 32, generator=gen) < density
    bits[:, Tk:] = False
    if empty_rows:
        bits[torch.randperm(rows, generator=gen)[:empty_rows]] = False
    w = torch.zeros(rows, W, dtype=torch.int64)
    for b in range(32):
        w |= bits[:, b::32].to(torch.int64) << b
    return w.to(torch.int32).reshape(-1)  # bit patterns; reinterpreted as uint32 by the kernel


CASES = [
    # name, B, Sq, Sk, Hq, Hkv, D, layout, dtype
    ("len1_d64", 1, 1, 1, 1, 1, 64, "bshd", BF16),
    ("len113_d64", 1, 113, 113, 2, 2, 64, "bshd", BF16),
    ("len239_d128_gqa2", 2, 239, 239, 4, 2, 128, "bhsd", BF16),
    ("len1023_d64_mqa8", 1, 1023, 1023, 8, 1, 64, "padded", FP16),
    ("len4224_d128", 1, 4224, 4224, 1, 1, 128, "bshd", BF16),
    ("sq300_sk1023_d128", 2, 300, 1023, 2, 1, 128, "padded", FP16),
    ("sq1023_sk239_d64", 1, 1023, 239, 8, 8, 64, "bhsd", BF16),
    ("len640_d128_b3", 3, 640, 640, 2, 2, 128, "bshd", FP16),
    # more work items (rows) than an H100/H200 has SMs: persistent CTAs run several rows one
    # after another (pingpong and marking state across rows, the write-mask hand-over at each
    # row's end, the longest-first schedule with a read mask)
    ("len2048_d64_h24", 1, 2048, 2048, 24, 24, 64, "bshd", BF16),
    ("len2048_d128_h20", 1, 2048, 2048, 20, 20, 128, "bhsd", FP16),
    # 416 rows: on 132 SMs three full rounds and a partial odd one (the snake hands its ranks in
    # reverse, and most CTAs have no item in it)
    ("len2048_d64_h26", 1, 2048, 2048, 26, 26, 64, "bhsd", BF16),
    # a long key row: 157 key tiles = 5 mask words per row (the production shapes have 5 to 8;
    # the other cases have 1 or 2)
    ("sq200_sk20000_d64_gqa2", 1, 200, 20000, 4, 2, 64, "bshd", BF16),
    # O in its own layout whose strides are not 16-byte multiples (ODD_O): an -DLA_OTMA=1 build
    # must fall back to its plain stores here
    ("len300_d128_oodd", 1, 300, 300, 3, 3, 128, "bshd", BF16),
]
ODD_O = {"len300_d128_oodd"}

MODES = [
    # name, read density (None = no read mask), empty rows, marking criterion, thr, must-do
    ("dense", None, 0, None, -math.inf, False),
    ("sparse_mass", 0.5, 0, MASS, -4.0, True),
    ("sparse_peak_empty", 0.4, 3, PEAK, -2.0, False),
    ("full_mark_mass", None, 0, MASS, -3.0, False),
]


def check(lib, seed, quick, only=None, variant=None):
    dev = "cuda"
    gen = torch.Generator().manual_seed(seed)
    fails = 0
    variants = [variant] if variant else [(1, 2), (0, 2), (1, 1), (0, 0)]
    n = 0
    for case in CASES:
        name, B, Sq, Sk, Hq, Hkv, D, layout, dt = case
        if only and name not in only:
            continue
        for mi, mode in enumerate(MODES):
            mname, dens, empty, crit, thr, must = mode
            pp, persist = variants[(n + n // len(variants)) % len(variants)]  # rotate per case
            n += 1
            qf, kf = scored_qk(B, Sq, Sk, Hq, Hkv, D, gen)
            q = make(B, Sq, Hq, D, layout, dt, dev, gen, qf)
            k = make(B, Sk, Hkv, D, layout, dt, dev, gen, kf)
            v = make(B, Sk, Hkv, D, layout, dt, dev, gen)
            geom = lib.geometry(B, Hq, Sq, Sk, D, dt)
            rmask = None if dens is None else random_mask(geom, dens, gen, empty)
            must_k = [(min(Sk - 1, 130), min(Sk, 131))] if must else []
            must_q = [(Sq - 1, Sq)] if must else []
            marking = crit is not None
            res = {}
            for kern in (0, 1):
                on_dev = kern == 1
                qq, kk, vv = (q, k, v) if on_dev else (host_copy(q), host_copy(k), host_copy(v))
                o = empty_like_layout(q, dev if on_dev else "cpu", float("nan"), name in ODD_O)
                lse = torch.full((B, Hq, Sq), float("nan"), device=o.device)
                rm = None if rmask is None else rmask.to(o.device)
                wm = (torch.full((geom["words"],), -1, dtype=torch.int32, device=o.device)
                      if marking else None)
                lib.run(kern, dt, qq, kk, vv, o, lse, rm, wm, thr, crit if marking else MASS,
                        must_k, must_q, pp, persist)
                if on_dev:
                    torch.cuda.synchronize()
                res[kern] = (o.float().cpu(), lse.cpu(), None if wm is None else wm.cpu())
            (oc, lc, wc), (og, lg, wg) = res[0], res[1]
            finite = torch.isfinite(og).all().item() and not torch.isnan(lg).any().item()
            rel = ((og - oc).norm() / oc.norm().clamp_min(1e-30)).item()
            maxd = (og - oc).abs().max().item() if og.numel() else 0.0
            inf_ok = torch.equal(torch.isinf(lg), torch.isinf(lc))
            fin = torch.isfinite(lc)
            lse_d = (lg[fin] - lc[fin]).abs().max().item() if fin.any() else 0.0
            tol = 2e-2 if dt == BF16 else 6e-3
            ok = finite and rel < tol and inf_ok and lse_d < 5e-3
            mark = ""
            if marking:
                diff = (wg ^ wc)
                nbits = sum(bin(x & 0xFFFFFFFF).count("1") for x in diff.tolist())
                kept = sum(bin(x & 0xFFFFFFFF).count("1") for x in wc.tolist())
                visited = (geom["rows"] * geom["Tk"] if rmask is None else
                           sum(bin(x & 0xFFFFFFFF).count("1") for x in rmask.tolist()))
                mark = " mask: kept %d/%d visited, %d bits differ" % (kept, visited, nbits)
                ok = ok and nbits <= max(1, visited // 200)
            # determinism: the same call again gives identical bits
            o2 = empty_like_layout(q, dev, float("nan"), name in ODD_O)
            lse2 = torch.full((B, Hq, Sq), float("nan"), device=dev)
            wm2 = (torch.full((geom["words"],), -1, dtype=torch.int32, device=dev)
                   if marking else None)
            lib.run(1, dt, q, k, v, o2, lse2, None if rmask is None else rmask.to(dev), wm2, thr,
                    crit if marking else MASS, must_k, must_q, pp, persist)
            torch.cuda.synchronize()
            det = torch.equal(o2.float().cpu().nan_to_num(7.0), og.nan_to_num(7.0)) and (
                wm2 is None or torch.equal(wm2.cpu(), wg))
            ok = ok and det
            fails += not ok
            print("%-4s %-20s %-18s pp=%d per=%d rel=%.2e max=%.2e lse=%.1e det=%d%s" %
                  ("ok" if ok else "FAIL", name, mname, pp, persist, rel, maxd, lse_d, det, mark),
                  flush=True)
            if quick and mi == 1:
                break
    return fails


def bench_ms(fn, rep_ms):
    import triton.testing as tt
    return tt.do_bench(fn, warmup=max(25, rep_ms // 10), rep=rep_ms, return_mode="median")


def bench(lib, seed, quick, ab=None):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    dev = "cuda"
    gen = torch.Generator(device=dev).manual_seed(seed)
    mgen = torch.Generator().manual_seed(seed)
    rows = []
    shapes = [(12, 32760, 128), (12, 32760, 64), (40, 75600, 128)]
    if quick:
        shapes = shapes[:1]
    for H, S, D in shapes:
        dt = BF16
        q = make(1, S, H, D, "bshd", dt, dev, gen)
        k = make(1, S, H, D, "bshd", dt, dev, gen)
        v = make(1, S, H, D, "bshd", dt, dev, gen)
        o = torch.empty_like(q)
        flops = 4.0 * H * S * S * D
        rep = 1500 if S < 50000 else 3000
        geom = lib.geometry(1, H, S, S, D, dt)

        def tf(ms, f=flops):
            return f / (ms * 1e-3) / 1e12

        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        try:
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                ref = F.scaled_dot_product_attention(qt, kt, vt)
                ms = bench_ms(lambda: F.scaled_dot_product_attention(qt, kt, vt), rep)
            cudnn = ms
            rows.append(dict(shape=(H, S, D), what="cudnn", ms=ms, tflops=tf(ms)))
        except Exception as e:  # noqa: BLE001 - report and go on without the baseline
            print("cudnn unavailable:", e)
            ref, cudnn = None, None
        # the default (1, 1) twice: the spread of one version timed twice
        variants = ([(0, 0), (0, 1), (1, 0), (1, 1), (1, 1)] if (H, S) == (12, 32760)
                    else [(0, 1), (1, 1), (1, 1)])
        for pp, per in variants:
            fn = lambda: lib.run(1, dt, q, k, v, o, None, pp=pp, persist=per)
            fn()
            torch.cuda.synchronize()
            if ref is not None:
                rel = ((o.float() - ref.transpose(1, 2).float()).norm() /
                       ref.float().norm()).item()
            else:
                rel = float("nan")
            ms = bench_ms(fn, rep)
            rows.append(dict(shape=(H, S, D), what="sm90 pp=%d per=%d" % (pp, per), ms=ms,
                             tflops=tf(ms), vs_cudnn=(cudnn / ms if cudnn else None),
                             rel_vs_cudnn=rel))
        dense_ms = rows[-1]["ms"]  # this build, pp=1 per=1
        if ab is not None:  # the same calls through another build (A/B in one process)
            for pp in ((1, 0) if (H, S) == (12, 32760) else (1,)):
                fn = lambda: ab.run(1, dt, q, k, v, o, None, pp=pp, persist=1)
                ms = bench_ms(fn, rep)
                rows.append(dict(shape=(H, S, D), what="AB pp=%d per=1" % pp, ms=ms,
                                 tflops=tf(ms), vs_cudnn=(cudnn / ms if cudnn else None)))
        if (H, S) != (12, 32760) or D != 128:
            continue
        # marking on, nothing skipped: the full criterion runs (thr = -30 marks nothing on
        # these inputs; checked below), and thr = -inf
        wm = torch.zeros(geom["words"], dtype=torch.int32, device=dev)
        for thr, crit in ((-30.0, MASS), (-30.0, PEAK), (-math.inf, MASS)):
            fn = lambda: lib.run(1, dt, q, k, v, o, None, None, wm, thr, crit)
            ms = bench_ms(fn, rep)
            full = lib.geometry(1, H, S, S, D, dt)
            kept = sum(bin(x & 0xFFFFFFFF).count("1") for x in wm.cpu().tolist())
            rows.append(dict(shape=(H, S, D), what="sm90 marking %s thr=%g" %
                             ("MASS" if crit == MASS else "PEAK", thr), ms=ms, tflops=tf(ms),
                             overhead=ms / dense_ms - 1,
                             kept_fraction=kept / (full["rows"] * full["Tk"])))
            if ab is not None and thr > -math.inf:
                fn = lambda: ab.run(1, dt, q, k, v, o, None, None, wm, thr, crit)
                ms = bench_ms(fn, rep)
                rows.append(dict(shape=(H, S, D), what="AB marking %s thr=%g" %
                                 ("MASS" if crit == MASS else "PEAK", thr), ms=ms,
                                 tflops=tf(ms)))
        # sparse read masks
        for d in (0.75, 0.5, 0.25):
            rm = random_mask(geom, d, mgen).to(dev)
            for per in (1, 2):
                fn = lambda: lib.run(1, dt, q, k, v, o, None, rm, persist=per)
                ms = bench_ms(fn, rep)
                rows.append(dict(shape=(H, S, D), what="sm90 d=%.2f %s" %
                                 (d, "lpt" if per == 2 else "stride"), ms=ms,
                                 tflops_effective=tf(ms), ratio_vs_d_dense=ms / (d * dense_ms)))
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "bench.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    print("%-16s %-24s %9s %8s %s" % ("shape H,S,D", "kernel", "ms", "TFLOP/s", "note"))
    for r in rows:
        note = ""
        for key in ("vs_cudnn", "overhead", "kept_fraction", "ratio_vs_d_dense", "rel_vs_cudnn"):
            if r.get(key) is not None:
                note += " %s=%.3f" % (key, r[key])
        tfl = r.get("tflops", r.get("tflops_effective"))
        print("%-16s %-24s %9.3f %8.1f%s" % (str(r["shape"]), r["what"], r["ms"], tfl, note))


AB_SHAPES = ((12, 32760, 128), (48, 17776, 64))
AB_CONFIGS = ("dense", "MASS thr=-30", "PEAK thr=-30", "d=0.50", "d=0.25", "d=0.25 MASS thr=-4",
              "d=0.25 stride")


def ab_bench(lib, ab, seed, rep_ms=800, dev="cuda", alt=None, shapes=AB_SHAPES,
             only=AB_CONFIGS):
    """A/B of two builds in one process (LIB = new, AB = previous), production schedule
    (pingpong, persistent longest-first): per shape, dense, marking with nothing skipped (MASS
    and PEAK, thr = -30) and random read masks (d = 0.5, 0.25, 0.25 with MASS marking, and 0.25
    on the static stride instead of the longest-first schedule).
    Each pair is timed new, prev, prev, new; a row's ms is the mean of its two medians; marking
    and d = 0.5 / 0.25 rows are divided by a dense of the same build timed right after each of
    their measurements (the card's clock drifts a few % over the run as it heats). With
    ALT (a third build, e.g. the new one with another placement) the order is new, prev, alt,
    alt, prev, new and the rows and RESULT lines carry its numbers too. `shapes` and `only` (config
    names; "d=0.10" and "d=0.10 stride" are extra ones) select; dense is always timed."""
    gen = torch.Generator(device=dev).manual_seed(seed)
    mgen = torch.Generator().manual_seed(seed)
    rows = []
    warm = True
    # rows divided by a dense of the same build timed right after each of their measurements (the
    # card's clock drifts a few % over a run as it heats); the others have their own base
    paired = lambda name: name not in ("dense", "d=0.25 MASS thr=-4", "d=0.25 stride",
                                       "d=0.10 stride")
    for H, S, D in shapes:
        dt = BF16
        q, k, v = (make(1, S, H, D, "bshd", dt, dev, gen) for _ in range(3))
        o = torch.empty_like(q)
        geom = lib.geometry(1, H, S, S, D, dt)
        wm = torch.zeros(geom["words"], dtype=torch.int32, device=dev)
        masks = {d: random_mask(geom, d, mgen).to(dev) for d in (0.5, 0.25)}
        configs = [("dense", None, None, None), ("MASS thr=-30", None, MASS, -30.0),
                   ("PEAK thr=-30", None, PEAK, -30.0), ("d=0.50", 0.5, None, None),
                   ("d=0.25", 0.25, None, None), ("d=0.25 MASS thr=-4", 0.25, MASS, -4.0),
                   ("d=0.25 stride", 0.25, None, None), ("d=0.10", 0.1, None, None),
                   ("d=0.10 stride", 0.1, None, None)]
        configs = [c for c in configs if c[0] == "dense" or c[0] in only]
        if any(c[1] == 0.1 for c in configs):  # (drawn after the others: their masks as before)
            masks[0.1] = random_mask(geom, 0.1, mgen).to(dev)
        res = {}

        def dense_call(l):
            l.run(1, dt, q, k, v, o, None, None, pp=1, persist=2)
        if warm:
            # thermal steady state before the first timing (the card clocks down as it heats:
            # an H100 ran the first dense case ~4% faster than the same case 5 s later)
            t0 = time.time()
            while time.time() - t0 < 4.0:
                for _ in range(8):
                    dense_call(lib)
                torch.cuda.synchronize()
            warm = False
        for name, d, crit, thr in configs:
            rm = None if d is None else masks[d]
            # "stride": the static persistent stride instead of the longest-first schedule
            per = 1 if "stride" in name else 2
            def call(l, rm=rm, crit=crit, thr=thr, per=per):
                if crit is None:
                    l.run(1, dt, q, k, v, o, None, rm, pp=1, persist=per)
                else:
                    l.run(1, dt, q, k, v, o, None, rm, wm, thr, crit, pp=1, persist=per)
            t = {"new": [], "prev": [], "alt": []}
            td = {"new": [], "prev": [], "alt": []}  # the same build's dense, right after
            kept = {}
            order = ("new", "prev", "prev", "new") if alt is None else (
                "new", "prev", "alt", "alt", "prev", "new")
            for which in order:
                l = lib if which == "new" else ab if which == "prev" else alt
                t[which].append(bench_ms(lambda: call(l), rep_ms))
                if paired(name):
                    td[which].append(bench_ms(lambda: dense_call(l), rep_ms))
                if crit is not None:
                    wm.zero_()
                    call(l)
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    kept[which] = sum(bin(x & 0xFFFFFFFF).count("1") for x in wm.cpu().tolist())
            r = dict(shape=(H, S, D), what=name, new=sum(t["new"]) / 2,
                     prev=sum(t["prev"]) / 2, new_runs=t["new"], prev_runs=t["prev"])
            if alt is not None:
                r["alt"], r["alt_runs"] = sum(t["alt"]) / 2, t["alt"]
            for w in td:
                if td[w]:
                    r["dense_" + w] = sum(td[w]) / len(td[w])
            if kept:
                visited = (geom["rows"] * geom["Tk"] if rm is None else
                           sum(bin(x & 0xFFFFFFFF).count("1") for x in rm.cpu().tolist()))
                r["kept_new"], r["kept_prev"], r["visited"] = kept["new"], kept["prev"], visited
            res[name] = r
            rows.append(r)
            same = all(kept[w] == kept["new"] for w in kept)
            print("%-16s %-20s new %8.3f ms  prev %8.3f ms  new/prev %.3f%s%s" % (
                str(r["shape"]), name, r["new"], r["prev"], r["new"] / r["prev"],
                "" if alt is None else "  alt %8.3f ms  alt/prev %.3f" % (
                    r["alt"], r["alt"] / r["prev"]),
                "" if not kept else "  kept %d/%d (prev %d%s)%s" % (
                    kept["new"], visited, kept["prev"],
                    "" if alt is None else ", alt %d" % kept["alt"],
                    "" if same else "  KEPT MISMATCH")), flush=True)
            if "dense_new" in r:
                print("%-16s %-20s paired dense: new %8.3f ms  prev %8.3f ms%s" % (
                    "", "", r["dense_new"], r["dense_prev"],
                    "" if alt is None else "  alt %8.3f ms" % r["dense_alt"]), flush=True)
        # drift: dense once more after every other case (new and prev, same order)
        again = {w: bench_ms(lambda l=l: dense_call(l), rep_ms)
                 for w, l in (("new", lib), ("prev", ab))}
        print("%-16s %-20s new %8.3f ms  prev %8.3f ms  (drift: again/first new %.3f prev %.3f)"
              % (str((H, S, D)), "dense again", again["new"], again["prev"],
                 again["new"] / res["dense"]["new_runs"][0],
                 again["prev"] / res["dense"]["prev_runs"][0]), flush=True)
        dense = res["dense"]
        for name, r in res.items():
            d = (0.5 if "d=0.50" in name else 0.25 if "d=0.25" in name else
                 0.1 if "d=0.10" in name else 1.0)
            for w in ("new", "prev") + (() if alt is None else ("alt",)):
                if name == "dense":
                    r["vs_" + w] = 1.0
                elif paired(name):
                    r["vs_" + w] = r[w] / (d * r["dense_" + w])
                else:  # with marking, or on the stride: against the same density's row
                    base = res.get(name.split()[0])
                    r["vs_" + w] = r[w] / base[w] if base else float("nan")
        ws = ("new", "prev") + (() if alt is None else ("alt",))
        print("RESULT (%d, %d, %d) %s" % (H, S, D, "; ".join(
            "%s: %s" % (name, " ".join("%s %.3f" % (w, res[name]["vs_" + w]) for w in ws))
            for name in res if name != "dense")) + "; dense new/prev %.3f%s" % (
                dense["new"] / dense["prev"],
                "" if alt is None else " alt/prev %.3f" % (dense["alt"] / dense["prev"])),
            flush=True)
        if not all(c in res for c in AB_CONFIGS):
            continue
        print("RESULT (%d, %d, %d) marking overhead, nothing skipped: MASS new %+.1f%% prev "
              "%+.1f%%; PEAK new %+.1f%% prev %+.1f%% (target <= 3%%)" % (
                  H, S, D, 100 * (res["MASS thr=-30"]["vs_new"] - 1),
                  100 * (res["MASS thr=-30"]["vs_prev"] - 1),
                  100 * (res["PEAK thr=-30"]["vs_new"] - 1),
                  100 * (res["PEAK thr=-30"]["vs_prev"] - 1)))
        print("RESULT (%d, %d, %d) sparse time / (d * dense): d=0.50 new %.3f prev %.3f; "
              "d=0.25 new %.3f prev %.3f (target <= 1.05); d=0.25 MASS marking overhead new "
              "%+.1f%% prev %+.1f%%; dense new/prev %.3f" % (
                  H, S, D, res["d=0.50"]["vs_new"], res["d=0.50"]["vs_prev"],
                  res["d=0.25"]["vs_new"], res["d=0.25"]["vs_prev"],
                  100 * (res["d=0.25 MASS thr=-4"]["vs_new"] - 1),
                  100 * (res["d=0.25 MASS thr=-4"]["vs_prev"] - 1),
                  dense["new"] / dense["prev"]), flush=True)
        print("RESULT (%d, %d, %d) d=0.25 static stride / longest-first schedule: new %.3f "
              "prev %.3f" % (H, S, D, res["d=0.25 stride"]["vs_new"],
                             res["d=0.25 stride"]["vs_prev"]), flush=True)
        if alt is not None:
            print("RESULT (%d, %d, %d) alt: MASS %+.1f%% PEAK %+.1f%% (nothing skipped); "
                  "d=0.50 %.3f d=0.25 %.3f; d=0.25 MASS overhead %+.1f%%; dense alt/prev %.3f" % (
                      H, S, D, 100 * (res["MASS thr=-30"]["vs_alt"] - 1),
                      100 * (res["PEAK thr=-30"]["vs_alt"] - 1), res["d=0.50"]["vs_alt"],
                      res["d=0.25"]["vs_alt"], 100 * (res["d=0.25 MASS thr=-4"]["vs_alt"] - 1),
                      dense["alt"] / dense["prev"]), flush=True)
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "ab.json"), "w") as fh:
        json.dump(rows, fh, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--only", default="", help="comma-separated case names to check")
    ap.add_argument("--variant", default="",
                    help="PP,PERSIST: every checked run with this variant (default: rotate)")
    ap.add_argument("--ab", default="", help="another build of the bridge to time beside LIB")
    ap.add_argument("--alt", default="", help="a third build for --ab-bench (optional)")
    ap.add_argument("--ab-shapes", default="",
                    help="H,S,D;H,S,D... for --ab-bench (default: %s)" % (AB_SHAPES,))
    ap.add_argument("--ab-configs", default="",
                    help="comma-separated --ab-bench configs, _ for a space (default: %s)" % (AB_CONFIGS,))
    ap.add_argument("--ab-bench", action="store_true",
                    help="only the A/B table against --ab (marking and sparse, D=128 and D=64)")
    a = ap.parse_args()
    lib = Lib(a.lib)
    print("device:", torch.cuda.get_device_name(), "seed:", a.seed, flush=True)
    fails = 0
    if a.check:
        fails = check(lib, a.seed, a.quick, [c for c in a.only.split(",") if c],
                      tuple(int(x) for x in a.variant.split(",")) if a.variant else None)
        print("check: %d failures" % fails, flush=True)
    if a.ab_bench and fails == 0:
        if not a.ab:
            print("--ab-bench needs --ab PREVLIB")
            return 2
        shapes = tuple(tuple(int(x) for x in sh.split(",")) for sh in a.ab_shapes.split(";")
                       if sh) or AB_SHAPES
        only = tuple(c.strip().replace("_", " ") for c in a.ab_configs.split(",")
                     if c.strip()) or AB_CONFIGS
        ab_bench(lib, Lib(a.ab), a.seed + 1, alt=Lib(a.alt) if a.alt else None,
                 shapes=shapes, only=only)
    if a.bench and fails == 0:
        bench(lib, a.seed + 1, a.quick, Lib(a.ab) if a.ab else None)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
