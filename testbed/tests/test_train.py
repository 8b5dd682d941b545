"""Chunked training: a resumed run equals an uninterrupted one; the compact (bf16) resume path,
logs, compute accounting and the export."""
import csv
import json

import torch

from testbed import train

ARGS = ["--config", "tiny", "--batch", "2", "--log-every", "1", "--minutes", "60",
        "--device", "cpu", "--compile", "off", "--warmup", "2"]


def run(tmp, *extra):
    assert train.main(ARGS + ["--run", str(tmp)] + list(extra)) == 0


def weights(path):
    return torch.load(path / "ckpt.pt", weights_only=False)["model"]


def test_resume_is_exact(tmp_path):
    run(tmp_path / "a", "--max-steps", "2")
    run(tmp_path / "a", "--max-steps", "4")
    run(tmp_path / "b", "--max-steps", "4")
    wa, wb = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["step"] == 4 and meta["samples"] == 8 and len(meta["chunks"]) == 2
    assert meta["device_seconds"] >= sum(c["loop_seconds"] for c in meta["chunks"])
    rows = list(csv.DictReader(open(tmp_path / "a" / "loss.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["loss"]) > 0 for r in rows)
    assert (tmp_path / "a" / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_compact_resume_and_export(tmp_path):
    run(tmp_path / "r", "--max-steps", "2", "--export", str(tmp_path / "out"))
    exported = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert exported == ["loss.csv", "loss.png", "meta.json", "weights.pt", "weights_ema.pt"]
    fresh = tmp_path / "fresh"  # a new machine: only the exported files
    fresh.mkdir()
    for p in (tmp_path / "out").iterdir():
        (fresh / p.name).write_bytes(p.read_bytes())
    run(fresh, "--max-steps", "3")
    meta = json.loads((fresh / "meta.json").read_text())
    assert meta["step"] == 3 and meta["chunks"][-1]["resumed_from"].startswith("bf16 weights")
    w = torch.load(fresh / "weights.pt", weights_only=True)
    before = torch.load(tmp_path / "out" / "weights.pt", weights_only=True)
    name = "blocks.0.attn.qkv.weight"
    assert not torch.equal(w["state_dict"][name], before["state_dict"][name])  # it trained on


def test_time_budget_stops_the_chunk(tmp_path):
    # a budget already spent: the chunk saves without a step (resume state stays valid)
    assert train.main(ARGS[:6] + ["--minutes", "0", "--device", "cpu", "--compile", "off",
                                  "--run", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "meta.json").read_text())["step"] == 0


def test_data_parallel_two_ranks(tmp_path):
    """torchrun with 2 CPU ranks (gloo): both take the same steps, rank 0 alone writes, the
    samples count both ranks' clips, and the result resumes in one process."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(train.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(root / "testbed" / "train.py")] + ARGS + ["--run-dir", str(tmp_path), "--max-steps", "3",
                                                  "--anneal-to", "0.1"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "data parallel over 2 GPUs" in r.stdout
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["step"] == 3 and meta["samples"] == 3 * 2 * 2
    assert meta["chunks"][-1]["gpus"] == 2
    assert meta["gpu_seconds"] >= 2 * meta["chunks"][-1]["loop_seconds"]
    rows = list(csv.DictReader(open(tmp_path / "loss.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]  # one writer, no duplicate rows
    assert [int(r["samples"]) for r in rows] == [4, 8, 12]
    run(tmp_path, "--max-steps", "4")  # a single process goes on from the data-parallel state
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["step"] == 4 and meta["samples"] == 12 + 2
