"""evaluate.py end to end on CPU with an untrained tiny model: every section and file appears,
numbers are in range, a failing setting is recorded without stopping the run, the trajectory
reads back. (The numbers themselves mean nothing.)"""
import json
import math

from testbed import evaluate
from testbed.trajectory import read_trajectory


def test_evaluate_tiny_end_to_end(tmp_path):
    rc = evaluate.main(["--tiny", "--out", str(tmp_path), "--steps", "12", "--clips", "2",
                        "--calib-clips", "1", "--thresholds-mass=-1,-6",
                        "--thresholds-peak=-8,0.5", "--default-threshold", "-1",
                        "--coherence-mass", "-1", "--timing-reps", "1",
                        "--heatmap-layers", "0,1", "--traj-layers", "0,1", "--dense-calls-alt", "0",
                        "--traj-window", "4,8,8", "--device", "cpu"])
    assert rc == 0
    md = (tmp_path / "RESULTS.md").read_text()
    assert "UNTRAINED MODEL" in md
    # threshold 0.5 > 0 is refused by liteattn: recorded, and the rest of the run goes on
    assert "Incomplete run" in md and "sweep peak 0.5 refresh 0: failed" in md
    for section in ("## 1. Temporal coherence", "## 2. Quality vs sparsity",
                    "## 3. Calibrated thresholds", "## 4. Generation time",
                    "## 5. Masks over steps", "## 6. Recorded trajectory"):
        assert section in md
    res = tmp_path / "results"
    R = json.loads((res / "results.json").read_text())
    assert len(R["sweep"]) == 3 * 2  # (2 mass + 1 valid peak thresholds) x refresh {0, 10}
    assert len(R["incomplete"]) == 2 and len(R["calibrated"]) == 2 and len(R["timing"]) == 4
    for row in R["sweep"] + R["calibrated"]:
        assert 0.0 < row["density"] <= 1.0 and math.isfinite(row["psnr"])
        assert -1.0 <= row["ssim"] <= 1.0 + 1e-6
    assert any(r["density"] < 1.0 for r in R["sweep"])  # some setting skipped tiles
    for crit in ("mass", "peak"):
        for layer in ("0", "1"):
            v = R["coherence"][crit][layer]
            assert 0.0 <= v["negligible"] <= 1.0
            assert all(math.isnan(v[f"coh{d}"]) or 0.0 <= v[f"coh{d}"] <= 1.0
                       for d in (1, 5, 10))
    for name in ("sdpa", "liteattn dense"):
        t = R["timing"][name]
        assert t["seconds"] > 0 and 0.0 <= t["attention_share"] <= 1.0
    for png in ("coherence_mass.png", "coherence_peak.png", "sweep_psnr.png", "sweep_ssim.png",
                "heatmaps.png", "samples_dense.png", "density_steps.png"):
        assert (res / png).read_bytes()[:4] == b"\x89PNG", png
    traj = read_trajectory(res / "trajectory.latraj")
    assert traj["steps"] == 12 and traj["seqlen"] == 4 * 8 * 8 and len(traj["series"]) == 2
    assert (res / "trajectory.latraj").stat().st_size <= 16 * 2 ** 20


def test_evaluate_time_budget_keeps_the_essentials(tmp_path):
    rc = evaluate.main(["--tiny", "--out", str(tmp_path), "--steps", "11", "--clips", "1",
                        "--thresholds-mass=-1,-6", "--thresholds-peak=-8",
                        "--default-threshold", "-1", "--timing-reps", "2", "--dense-calls-alt", "0",
                        "--heatmap-layers", "0", "--traj-layers", "0", "--traj-window", "2,4,4",
                        "--budget-minutes", "0.0001", "--device", "cpu"])
    assert rc == 0
    R = json.loads((tmp_path / "results" / "results.json").read_text())
    # the default setting always runs; the rest of the sweep and calibration are skipped
    assert [(r["criterion"], r["threshold"]) for r in R["sweep"]] == [("mass", -1.0)]
    assert R["calibrated"] == [] and len(R["incomplete"]) == 3
    assert set(R["timing"]) == {"sdpa", "liteattn dense", "liteattn mass -1 (default)"}
    assert "Incomplete run" in (tmp_path / "RESULTS.md").read_text()


def test_default_chosen_on_held_out_clips(tmp_path):
    """--default-threshold auto: every grid threshold (with and without dense first steps) runs
    on the calibration clips; the pick is the sparsest whose mean PSNR keeps --target-psnr, and it
    is the sweep's default."""
    rc = evaluate.main(["--tiny", "--out", str(tmp_path), "--steps", "8", "--clips", "1",
                        "--calib-clips", "1", "--thresholds-mass=0,-1,-8",
                        "--thresholds-peak=-8", "--refresh", "0", "--target-psnr", "20",
                        "--timing-reps", "1", "--heatmap-layers", "0", "--traj-layers", "0",
                        "--traj-window", "2,4,4", "--dense-calls-alt", "2", "--device", "cpu"])
    assert rc == 0
    R = json.loads((tmp_path / "results" / "results.json").read_text())
    sel = R["default_selection"]
    assert [(r["criterion"], r["threshold"], r["dense_calls"]) for r in sel["rows"]] == \
        [(c, t, dc) for dc in (0, 2) for c, t in
         (("mass", 0.0), ("mass", -1.0), ("mass", -8.0), ("peak", -8.0))]
    ok = [r for r in sel["rows"] if r["psnr"] >= 20]
    if ok:
        assert sel["met"] and sel["pick"]["density"] == min(r["density"] for r in ok)
    else:
        assert not sel["met"]
    pick = (sel["pick"]["criterion"], sel["pick"]["threshold"], sel["pick"]["dense_calls"])
    assert (R["default"]["criterion"], R["default"]["threshold"], R["default"]["dense_calls"]) == pick
    d = next(r for r in R["sweep"] if "density_per_step" in r)
    assert (d["criterion"], d["threshold"], d["dense_calls"]) == pick
    assert len(R["sweep"]) == 4 + 4  # refresh 0 with dense_calls 0, and again with 2
    assert "How the default was chosen" in (tmp_path / "RESULTS.md").read_text()
