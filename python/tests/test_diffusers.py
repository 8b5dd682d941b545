"""diffusers integration on tiny random Wan, HunyuanVideo, CogVideoX and LTX-Video transformers."""
import math

import pytest
import torch

import liteattn.diffusers as ld
from liteattn.diffusers import LiteAttnProcessor
import tiny_models

STEPS = (900.0, 800.0, 700.0)


@pytest.fixture(params=list(tiny_models.MODELS))
def model(request):
    return request.param, *tiny_models.MODELS[request.param]()


run = tiny_models.run


def test_minus_inf_matches_stock(model):
    name, m, inputs = model
    tiny_models.check_minus_inf_matches_stock(m, inputs, atol=2e-5, rtol=1e-4)


def test_only_video_self_attention_is_wrapped(model):
    name, m, _ = model
    ld.enable(m)
    wrapped = {n for n, mod in m.named_modules()
               if isinstance(getattr(mod, "processor", None), LiteAttnProcessor)}
    assert wrapped == set(ld.layers(m)) and wrapped
    assert not any(n.endswith("attn2") or "refiner" in n for n in wrapped)


def test_finite_threshold_reaches_density_below_one(model):
    name, m, inputs = model
    ld.enable(m, threshold=-2.0)
    tiny_models.sharpen(m)
    for t in STEPS:
        run(m, inputs, t)
    d = ld.density(m)
    assert all(v < 1.0 for v in d.values()), d


def test_text_tokens_are_must_do(model):
    name, m, inputs = model
    ld.enable(m, threshold=0.0)
    tiny_models.sharpen(m)
    for t in STEPS:
        run(m, inputs, t)
    for layer in ld.layers(m).values():
        bits = layer.mask(layer.branches[0])
        if name == "cogvideox":  # 8 text tokens first: key tile 0 and query tile 0
            assert bits[..., 0].all() and bits[:, :, 0, :].all()
        elif name == "hunyuan":  # text after 1024 video tokens: the last tile
            assert bits[..., -1].all() and bits[:, :, -1, :].all()
        else:  # video only: the diagonal stays, nothing is pinned
            assert not bits[..., -1].all()


def test_next_generation_starts_from_full_mask(model):
    name, m, inputs = model
    ld.enable(m, threshold=-2.0, record_density=True)
    tiny_models.sharpen(m)
    for t in STEPS:
        run(m, inputs, t)
    layer = next(iter(ld.layers(m).values()))
    branch = layer.branches[0]
    assert layer.density(branch)[0] < 1.0 and layer.calls(branch) == 3
    run(m, inputs, STEPS[0])  # the timestep goes back up: a new generation
    assert ld.controllers(m)[0].generations == 1
    assert layer.calls(branch) == 1 and layer.density(branch)[0] == 1.0


def test_sequential_branches_by_call_order(model):
    name, m, inputs = model
    ld.enable(m, threshold=-2.0)
    tiny_models.sharpen(m)
    for t in STEPS:
        run(m, inputs, t)  # cond
        run(m, inputs, t)  # uncond, same timestep
    layer = next(iter(ld.layers(m).values()))
    assert sorted(layer.branches) == ["call0", "call1"]
    assert layer.calls("call0") == 3 and layer.calls("call1") == 3
    assert ld.controllers(m)[0].generations == 0


def test_sequential_branches_by_cache_context():
    m, inputs = tiny_models.wan()
    ld.enable(m, threshold=-2.0)
    tiny_models.sharpen(m)
    for i, t in enumerate(STEPS):
        with m.cache_context("cond"):
            run(m, inputs, t)
        if i != 1:  # uncond skipped at one step: the branches count steps separately
            with m.cache_context("uncond"):
                run(m, inputs, t)
    layer = ld.layers(m)["blocks.0.attn1"]
    assert layer.calls("cond") == 3 and layer.calls("uncond") == 2


def test_batched_guidance_keeps_rows_separate():
    m, inputs = tiny_models.wan()
    ld.enable(m, threshold=-2.0)
    tiny_models.sharpen(m)
    for t in STEPS:
        both = run(m, inputs, t, batch=2)
    single = run(m, inputs, STEPS[0], batch=1)  # new generation, batch 1: a new state
    layer = ld.layers(m)["blocks.0.attn1"]
    assert layer.density("call0")[1].shape == (2,)
    ld.reset(m)
    ref = run(m, inputs, STEPS[0], batch=2)
    torch.testing.assert_close(ref[:1], single, atol=2e-5, rtol=1e-4)
    assert both.shape[0] == 2


def test_padded_text_keys_match_masked_sdpa(monkeypatch):
    m, inputs = tiny_models.hunyuan(text_valid=[9, 12])
    ld.enable(m, threshold=-math.inf)
    diffs = []
    original = LiteAttnProcessor._attend

    def checked(self, ranges, *a, **kw):
        out = original(self, ranges, *a, **kw)
        diffs.append((out - torch.nn.functional.scaled_dot_product_attention(*a, **kw))
                     .abs().max().item())
        return out

    monkeypatch.setattr(LiteAttnProcessor, "_attend", checked)
    run(m, inputs, 900.0, batch=2)
    assert len(diffs) == 2 and max(diffs) < 1e-5
    assert ld.controllers(m)[0].dense_fallbacks == 0
    layer = ld.layers(m)["transformer_blocks.0.attn"]
    assert sorted(layer.branches) == ["call0/b0", "call0/b1"]  # keys cut to 1024+9, 1024+12
    assert layer._branches["call0/b0"].key[3] == 1024 + 9
    assert layer._branches["call0/b1"].key[3] == 1024 + 12


def test_pipeline_scheduler_reset_and_two_experts():
    """A Wan 2.2-style pipeline: two transformers (experts), both reset by set_timesteps."""
    class Scheduler:
        calls = 0

        def set_timesteps(self, n):
            Scheduler.calls += 1

    class Pipe:
        pass

    pipe = Pipe()
    pipe.transformer, inputs = tiny_models.wan()
    pipe.transformer_2, _ = tiny_models.wan(seed=1)
    pipe.scheduler = Scheduler()
    ld.enable(pipe, threshold=-2.0)
    tiny_models.sharpen(pipe.transformer)
    assert {"blocks.0.attn1", "transformer_2.blocks.0.attn1"} <= set(ld.layers(pipe))
    for gen in range(2):
        pipe.scheduler.set_timesteps(3)
        steps = (500.0, 499.0, 498.0) if gen else STEPS  # gen 1 never goes above gen 0's end
        for i, t in enumerate(steps):
            expert = pipe.transformer if i < 2 else pipe.transformer_2
            run(expert, inputs, t)
    assert Scheduler.calls == 2
    assert [c.generations for c in ld.controllers(pipe)] == [2, 2]
    assert ld.layers(pipe)["blocks.0.attn1"].calls("call0") == 2
    assert ld.layers(pipe)["transformer_2.blocks.0.attn1"].calls("call0") == 1


def test_set_enabled_and_errors():
    m, inputs = tiny_models.wan()
    ref = run(m, inputs, 900.0)
    ld.enable(m, threshold=0.0)
    tiny_models.sharpen(m)
    ld.set_enabled(m, False)
    run(m, inputs, 900.0)
    assert all(not layer.branches for layer in ld.layers(m).values())
    with pytest.raises(ValueError, match="not a supported video transformer"):
        ld.enable(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="enable"):
        ld.layers(torch.nn.Linear(2, 2))
    assert ref.shape == (1, 4, 4, 32, 32)
