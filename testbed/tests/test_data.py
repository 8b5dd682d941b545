"""The procedural generator: deterministic per (seed, index), in range, labelled, moving."""
import pytest
import torch

from testbed.data import MOTIONS, NUM_CLASSES, SHAPES, class_name, clip_params, make_batch
from testbed.data.procedural import _Hash


def test_shape_range_and_labels():
    v, y = make_batch(range(6), seed=3, frames=5, size=24)
    assert v.shape == (6, 5, 3, 24, 24) and v.dtype == torch.float32
    assert float(v.min()) >= -1.0 and float(v.max()) <= 1.0
    assert float(v.std()) > 0.1  # not a constant image
    assert y.shape == (6,) and bool(((y >= 0) & (y < NUM_CLASSES)).all())


def test_clip_depends_only_on_seed_and_index():
    a, ya = make_batch([5, 9, 2], seed=1, frames=4, size=16)
    b, yb = make_batch([2, 7, 5], seed=1, frames=4, size=16)
    assert torch.equal(a[0], b[2]) and torch.equal(a[2], b[0])
    assert ya[0] == yb[2]
    c, _ = make_batch([5], seed=2, frames=4, size=16)
    assert not torch.equal(a[0], c[0])


def test_forced_labels_and_names():
    labels = list(range(NUM_CLASSES))
    v, y = make_batch(range(NUM_CLASSES), frames=3, size=16, labels=labels)
    assert y.tolist() == labels
    p = clip_params(torch.arange(NUM_CLASSES), labels=torch.tensor(labels))
    assert p["shape"].tolist() == [l // len(MOTIONS) for l in labels]
    assert class_name(0) == f"{SHAPES[0]}/{MOTIONS[0]}"
    assert class_name(NUM_CLASSES) == "null"
    with pytest.raises(ValueError):
        class_name(NUM_CLASSES + 1)
    with pytest.raises(ValueError):
        make_batch([0], labels=[NUM_CLASSES])


def test_every_class_occurs_and_things_move():
    _, y = make_batch(range(240), frames=1, size=8)
    assert set(y.tolist()) == set(range(NUM_CLASSES))
    v, _ = make_batch(range(4), frames=6, size=32)
    motion = (v[:, 1:] - v[:, :-1]).abs().flatten(1).mean(1)
    assert bool((motion > 1e-3).all())  # objects move and the background pans


def test_hash_is_roughly_uniform_and_slot_independent():
    h = _Hash(torch.arange(20000), seed=0)
    u0, u1 = h(0), h(1)
    assert abs(float(u0.mean()) - 0.5) < 0.01 and float(u0.min()) >= 0 and float(u0.max()) < 1
    assert abs(float(torch.corrcoef(torch.stack([u0, u1]))[0, 1])) < 0.03


def test_same_clip_at_another_resolution_keeps_layout():
    lo, _ = make_batch([11], frames=2, size=16)
    hi, _ = make_batch([11], frames=2, size=64)
    down = torch.nn.functional.avg_pool2d(hi[0], 4)
    assert float((down - lo[0]).abs().mean()) < 0.15
