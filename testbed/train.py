"""Rectified-flow training of the testbed DiT, in resumable chunks of wall-clock time.

    python3 testbed/train.py --run testbed/runs/main --minutes 8.5 [--export $OUT]
    torchrun --standalone --nproc_per_node N testbed/train.py --run-dir ...   (data parallel)

A chunk loads the run's state if there is one, trains until --minutes is nearly spent (it stops
early enough to save), then writes into the run directory:
  ckpt.pt          full state (fp32 weights, EMA, AdamW moments, step): resumes exactly;
  weights.pt       bf16 weights, weights_ema.pt bf16 EMA weights (the file to ship);
  loss.csv / loss.png  the loss curve; meta.json  step, samples seen and compute spent.
--export DIR copies every file but ckpt.pt (each < 16 MB) to DIR, so a fresh machine can go on
from weights.pt + weights_ema.pt + meta.json (the optimizer moments restart with a short warm-up).

Objective: x_t = (1 - t) x0 + t eps with t ~ logit-normal(0, 1); the model predicts eps - x0.
Clip i of the stream is procedural clip i (seeded), so batch k is clips [k B, (k + 1) B): resuming
needs only the count of samples seen. Labels are dropped to the null class with probability --drop.

Data parallel (torchrun): every rank holds the whole model and trains on its own B clips of the
step's W*B (rank r takes clips [n + r B, n + (r+1) B) where n samples were seen before the step);
the gradients are averaged with one all-reduce of a flat buffer per step (no DDP wrapper, so
torch.compile sees the plain model); rank 0 decides when to stop and alone writes files."""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

T_START = time.time()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from testbed.common import pick_device, write_json  # noqa: E402
from testbed.data import make_batch  # noqa: E402
from testbed.model import (CONFIGS, DiTConfig, VideoDiT, load_weights, param_count,  # noqa: E402
                           save_weights)
from testbed.plot import plot  # noqa: E402

CSV_FIELDS = ["step", "samples", "loss", "lr", "chunk", "chunk_s", "device_s"]


def hashed_uniform(seed: int, step: int, n: int, device) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + step)
    return torch.rand(n, generator=g).to(device)


def training_batch(cfg, step: int, batch: int, seed: int, drop: float, device,
                   first: int = -1, rank: int = 0, world: int = 1):
    """(x0, labels with drops, t, noise) of step `step` on rank `rank` of `world`: the same on
    every resume. `first`: samples seen before this step (default step * batch * world)."""
    first = step * batch * world if first < 0 else first
    lo = first + rank * batch
    x0, y = make_batch(range(lo, lo + batch), seed, cfg.frames, cfg.size, device)
    key = step * world + rank
    y = torch.where(hashed_uniform(seed + 1, key, batch, device) < drop,
                    torch.full_like(y, cfg.num_classes), y)
    g = torch.Generator(device=device).manual_seed(seed * 7_000_003 + key)  # on the device:
    t = torch.sigmoid(torch.randn(batch, generator=g, device=device))     # resumes exactly on
    noise = torch.randn(x0.shape, generator=g, device=device)             # the same kind
    return x0, y, t, noise


def flow_loss(model, x0, y, t, noise):
    tt = t.view(-1, 1, 1, 1, 1)
    xt = (1 - tt) * x0 + tt * noise
    pred = model(xt, t, y)
    return torch.mean((pred.float() - (noise - x0)) ** 2)


def lr_at(step: int, base: float, warmup: int, warm_from: int) -> float:
    return base * min(1.0, (step - warm_from + 1) / max(1, warmup))


def read_csv(path: Path):
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def write_loss_png(run: Path) -> None:
    rows = read_csv(run / "loss.csv")
    if rows:
        plot(run / "loss.png", {"loss": ([float(r["step"]) for r in rows],
                                         [float(r["loss"]) for r in rows])},
             title="rectified-flow training loss", xlabel="step", ylabel="loss", logy=True)


def dist_init():
    """(rank, world, device or None) from torchrun's environment; (0, 1, None) without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    import torch.distributed as dist
    local = int(os.environ["LOCAL_RANK"])
    if not torch.cuda.is_available():  # CPU ranks (the tests): gloo
        dist.init_process_group("gloo")
        return dist.get_rank(), world, torch.device("cpu")
    dev = torch.device("cuda", local)
    torch.cuda.set_device(dev)
    dist.init_process_group("nccl", device_id=dev)
    return dist.get_rank(), world, dev


def all_reduce_mean_(tensors, world: int) -> None:
    """Average `tensors` over the ranks in place, through one flat buffer."""
    if world <= 1 or not tensors:
        return
    import torch.distributed as dist
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors
    flat = _flatten_dense_tensors(tensors)
    dist.all_reduce(flat)
    flat.div_(world)
    for t, f in zip(tensors, _unflatten_dense_tensors(flat, tensors)):
        t.copy_(f)


def main(argv=None, started: float = 0.0) -> int:
    """`started`: when the chunk's clock starts (the process start from the command line)."""
    started = started or time.time()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", "--run-dir", dest="run", default="testbed/runs/main",
                    help="run directory (state, logs); under torchrun spell it --run-dir "
                         "(torchrun's own parser takes --run for its --run-path)")
    ap.add_argument("--config", default="default", choices=sorted(CONFIGS))
    ap.add_argument("--minutes", type=float, default=8.5, help="wall-clock budget of this chunk")
    ap.add_argument("--max-steps", type=int, default=0, help="stop at this total step (0: none)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--rewarm", type=int, default=100,
                    help="warm-up steps after resuming without optimizer moments")
    ap.add_argument("--anneal-to", type=float, default=1.0,
                    help="final chunk: the learning rate falls linearly with the chunk's clock "
                         "to this fraction of --lr (1: constant)")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--drop", type=float, default=0.1, help="null-class probability (CFG)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                    help="torch.compile the model (auto: on CUDA); falls back to eager on error")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--save-margin", type=float, default=25.0, help="seconds kept for saving")
    ap.add_argument("--export", default=None, help="copy the small outputs here (e.g. $OUT)")
    a = ap.parse_args(argv)

    rank, world, ddev = dist_init()
    dev = ddev if ddev is not None else pick_device(a.device)
    lead = rank == 0
    run = Path(a.run)
    if lead:
        run.mkdir(parents=True, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = True
    meta = json.loads((run / "meta.json").read_text()) if (run / "meta.json").exists() else {}
    ckpt_path = run / "ckpt.pt"
    warm_from = 0
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model = VideoDiT(DiTConfig(**ck["config"]))
        model.load_state_dict(ck["model"])
        ema = VideoDiT(model.cfg)
        ema.load_state_dict(ck["ema"])
        step, how = ck["step"], "full checkpoint"
        samples = int(ck.get("samples", step * a.batch))
        opt_state, warm_from = ck["opt"], ck.get("warm_from", 0)
    elif (run / "weights.pt").exists():
        model = load_weights(run / "weights.pt")
        ema = load_weights(run / "weights_ema.pt")
        step, how, opt_state = int(meta["step"]), "bf16 weights (optimizer restarts)", None
        samples = int(meta.get("samples", step * a.batch))
        warm_from = step
    else:
        torch.manual_seed(a.seed)
        model = VideoDiT(CONFIGS[a.config])
        ema = VideoDiT(model.cfg)
        ema.load_state_dict(model.state_dict())
        step, how, opt_state, samples = 0, "new run", None, 0
    model.to(dev).train()
    ema.to(dev).eval().requires_grad_(False)
    if world > 1:  # every rank starts from rank 0's parameters
        import torch.distributed as dist
        for t in list(model.parameters()) + list(ema.parameters()):
            dist.broadcast(t.data, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.99), weight_decay=0.0)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    warmup = a.warmup if warm_from == 0 else a.rewarm
    cfg = model.cfg
    chunk = len(meta.get("chunks", [])) + 1
    if lead:
        print(f"[train] {how}: step {step}, config {a.config} ({param_count(model) / 1e6:.2f}M "
              f"params, {cfg.tokens} tokens/clip), device {dev}"
              + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "")
              + (f", data parallel over {world} GPUs, {world * a.batch} clips/step"
                 if world > 1 else ""), flush=True)

    fwd = model
    use_compile = a.compile == "on" or (a.compile == "auto" and dev.type == "cuda")
    if use_compile:
        fwd = torch.compile(model)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else \
        torch.autocast("cpu", enabled=False)
    budget = a.minutes * 60.0
    csv_path = run / "loss.csv"
    new_csv = not csv_path.exists()
    fcsv = open(csv_path if lead else os.devnull, "a", newline="")
    writer = csv.DictWriter(fcsv, fieldnames=CSV_FIELDS)
    if new_csv and lead:
        writer.writeheader()
    per_step = a.batch * world
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    t_loop = time.time()
    step_times, losses, steps_done = [], [], 0
    device_s0 = float(meta.get("device_seconds", 0.0))
    gpu_s0 = float(meta.get("gpu_seconds", device_s0))
    stop_flag = torch.zeros(2, dtype=torch.float64, device=dev)
    while True:
        elapsed = time.time() - started
        est = (sum(step_times[-20:]) / len(step_times[-20:])) if step_times else 0.0
        stop = bool(a.max_steps and step >= a.max_steps) or \
            elapsed + 2 * est + a.save_margin > budget
        if world > 1:  # rank 0's clock decides for everyone, so all ranks take the same steps
            import torch.distributed as dist
            stop_flag[0], stop_flag[1] = float(stop), elapsed  # and its clock (the anneal)
            dist.broadcast(stop_flag, 0)
            f = stop_flag.tolist()
            stop, elapsed = bool(f[0]), float(f[1])
        if stop:
            break
        t0 = time.time()
        lr = lr_at(step, a.lr, warmup, warm_from)
        if a.anneal_to < 1.0:  # by the clock, so that the chunk ends at the low rate
            lr *= 1.0 - (1.0 - a.anneal_to) * min(1.0, elapsed / max(1.0, budget - a.save_margin))
        for gr in opt.param_groups:
            gr["lr"] = lr
        batch = training_batch(cfg, step, a.batch, a.seed, a.drop, dev, samples, rank, world)

        def forward_backward(f):
            opt.zero_grad(set_to_none=True)
            with amp:
                out = flow_loss(f, *batch)
            out.backward()
            return out
        try:
            loss = forward_backward(fwd)
        except Exception as e:  # a compile failure (forward or backward) must not cost the chunk
            if fwd is model:
                raise
            print(f"[train] torch.compile failed ({type(e).__name__}: {str(e)[:300]}); "
                  "running eager", flush=True)
            fwd = model
            loss = forward_backward(fwd)
        all_reduce_mean_([p.grad for p in model_params if p.grad is not None], world)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - decay)
        step += 1
        steps_done += 1
        samples += per_step
        losses.append(loss.detach())
        if step % a.log_every == 0 or steps_done == 1:
            mean_t = torch.stack(losses).mean().reshape(1)
            all_reduce_mean_([mean_t], world)
            mean = float(mean_t)
            losses.clear()
            now = time.time()
            writer.writerow({"step": step, "samples": samples, "loss": f"{mean:.6f}",
                             "lr": f"{lr:.3e}", "chunk": chunk,
                             "chunk_s": f"{now - started:.1f}",
                             "device_s": f"{device_s0 + now - started:.1f}"})
            fcsv.flush()
            if lead:
                print(f"[train] step {step} loss {mean:.4f} lr {lr:.2e} "
                      f"{(now - t_loop) / steps_done:.3f} s/step", flush=True)
        if dev.type == "cuda" and steps_done <= 3:
            torch.cuda.synchronize()  # the first steps (compile) would skew the estimate
        step_times.append(time.time() - t0)
    if losses:  # every rank has the same number of pending losses (same steps)
        mean_t = torch.stack(losses).mean().reshape(1)
        all_reduce_mean_([mean_t], world)
        writer.writerow({"step": step, "samples": samples,
                         "loss": f"{float(mean_t):.6f}", "lr": f"{lr:.3e}",
                         "chunk": chunk, "chunk_s": f"{time.time() - started:.1f}",
                         "device_s": f"{device_s0 + time.time() - started:.1f}"})
    fcsv.close()
    if not lead:
        # wait for rank 0's saving, then leave together: a rank that tore its gloo group down
        # while rank 0 still held the connection aborted once at exit ("terminate called
        # without an active exception", exit -6, a fresh-clone `make test` of 2026-11-27)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
        return 0

    torch.save({"config": model.config_dict(), "model": model.state_dict(),
                "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                "samples": samples, "warm_from": warm_from}, ckpt_path)
    save_weights(model, run / "weights.pt")
    save_weights(ema, run / "weights_ema.pt", extra={"step": step, "ema": a.ema})
    write_loss_png(run)
    chunk_s = time.time() - started
    chunks = meta.get("chunks", []) + [{
        "chunk": chunk, "steps": steps_done, "end_step": step, "seconds": round(chunk_s, 1),
        "loop_seconds": round(time.time() - t_loop, 1), "batch": a.batch, "gpus": world,
        "lr": a.lr, "anneal_to": a.anneal_to,
        "samples_per_second": round(steps_done * per_step / max(1e-9, time.time() - t_loop), 1),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "compiled": fwd is not model, "resumed_from": how}]
    meta = {"config": a.config, "model": model.config_dict(), "params": param_count(model),
            "step": step, "samples": samples, "seed": a.seed,
            "device_seconds": round(device_s0 + chunk_s, 1),
            "gpu_seconds": round(gpu_s0 + world * chunk_s, 1),
            "note": "device_seconds: wall time of the training chunks (start-up and saving "
                    "included); gpu_seconds: the same times the GPUs each chunk used",
            "chunks": chunks,
            "last_loss": float(read_csv(csv_path)[-1]["loss"]) if read_csv(csv_path) else None}
    write_json(run / "meta.json", meta)
    if a.export:
        out = Path(a.export)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("weights.pt", "weights_ema.pt", "loss.csv", "loss.png", "meta.json"):
            if (run / name).exists():
                shutil.copy2(run / name, out / name)
    print(f"[train] chunk {chunk} done: {steps_done} steps in {chunk_s:.0f} s, total step {step}"
          f" ({samples} samples, {meta['gpu_seconds']:.0f} GPU-s), last loss "
          f"{meta['last_loss']}", flush=True)
    if world > 1:
        torch.distributed.barrier()  # the other ranks wait here for the files above
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(started=T_START))
