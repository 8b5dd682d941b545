"""Tiny randomly initialised video transformers built from each supported diffusers class's
config (no downloads), with inputs for one denoising call at timestep t: 1024 video tokens of
2 heads x `head_dim` dims (16 by default; 64 or 128 for the CUDA kernels), so 8 key tiles of
the C library's 128-key tile."""
import math

import torch

import liteattn.diffusers as ld


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _place(m, device, dtype):
    m = m.to(device)
    return (m if dtype == torch.float32 else m.to(dtype)).eval()


def wan(device="cpu", dtype=torch.float32, seed=0, head_dim=16):
    from diffusers import WanTransformer3DModel
    torch.manual_seed(seed)
    m = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2,
                              attention_head_dim=head_dim, in_channels=4, out_channels=4,
                              text_dim=16, freq_dim=32, ffn_dim=32, num_layers=2,
                              rope_max_seq_len=32)
    g = _gen(seed)
    x, txt = torch.randn(2, 4, 4, 32, 32, generator=g), torch.randn(2, 8, 16, generator=g)

    def inputs(t, batch=1):
        return dict(hidden_states=x[:batch].to(device, dtype),
                    timestep=torch.full((batch,), float(t), device=device),
                    encoder_hidden_states=txt[:batch].to(device, dtype), return_dict=False)
    return _place(m, device, dtype), inputs


def hunyuan(device="cpu", dtype=torch.float32, seed=0, text_valid=12, head_dim=16):
    from diffusers import HunyuanVideoTransformer3DModel
    torch.manual_seed(seed)
    axes = (head_dim // 4, 3 * head_dim // 8, 3 * head_dim // 8)  # RoPE axes sum to head_dim
    m = HunyuanVideoTransformer3DModel(in_channels=4, out_channels=4, num_attention_heads=2,
                                       attention_head_dim=head_dim, num_layers=1,
                                       num_single_layers=1, num_refiner_layers=1, patch_size=2,
                                       patch_size_t=1, text_embed_dim=16, pooled_projection_dim=8,
                                       rope_axes_dim=axes)
    g = _gen(seed)
    x, txt = torch.randn(2, 4, 4, 32, 32, generator=g), torch.randn(2, 12, 16, generator=g)
    pooled = torch.randn(2, 8, generator=g)
    mask = torch.zeros(2, 12, dtype=torch.long)
    valid = text_valid if isinstance(text_valid, (list, tuple)) else [text_valid] * 2
    for b, n in enumerate(valid):
        mask[b, :n] = 1

    def inputs(t, batch=1):
        return dict(hidden_states=x[:batch].to(device, dtype),
                    timestep=torch.full((batch,), float(t), device=device),
                    encoder_hidden_states=txt[:batch].to(device, dtype),
                    encoder_attention_mask=mask[:batch].to(device),
                    pooled_projections=pooled[:batch].to(device, dtype),
                    guidance=torch.full((batch,), 3.0, device=device), return_dict=False)
    return _place(m, device, dtype), inputs


def cogvideox(device="cpu", dtype=torch.float32, seed=0, head_dim=16):
    from diffusers import CogVideoXTransformer3DModel
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    torch.manual_seed(seed)
    m = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=head_dim,
                                    in_channels=4,
                                    out_channels=4, time_embed_dim=8, text_embed_dim=16,
                                    num_layers=2, sample_width=32, sample_height=32,
                                    sample_frames=13, patch_size=2, temporal_compression_ratio=4,
                                    max_text_seq_length=8, use_rotary_positional_embeddings=True)
    g = _gen(seed)
    x, txt = torch.randn(2, 4, 4, 32, 32, generator=g), torch.randn(2, 8, 16, generator=g)
    cos, sin = get_3d_rotary_pos_embed(embed_dim=head_dim, crops_coords=((0, 0), (16, 16)),
                                       grid_size=(16, 16), temporal_size=4)

    def inputs(t, batch=1):
        return dict(hidden_states=x[:batch].to(device, dtype),
                    timestep=torch.full((batch,), int(t), device=device),
                    encoder_hidden_states=txt[:batch].to(device, dtype),
                    image_rotary_emb=(cos.to(device), sin.to(device)), return_dict=False)
    return _place(m, device, dtype), inputs


def ltx(device="cpu", dtype=torch.float32, seed=0, head_dim=16):
    from diffusers import LTXVideoTransformer3DModel
    torch.manual_seed(seed)
    m = LTXVideoTransformer3DModel(in_channels=32, out_channels=32, num_attention_heads=2,
                                   attention_head_dim=head_dim, cross_attention_dim=2 * head_dim,
                                   num_layers=2,
                                   caption_channels=16)
    g = _gen(seed)
    x, txt = torch.randn(2, 4 * 16 * 16, 32, generator=g), torch.randn(2, 8, 16, generator=g)

    def inputs(t, batch=1):
        return dict(hidden_states=x[:batch].to(device, dtype),
                    timestep=torch.full((batch,), float(t), device=device),
                    encoder_hidden_states=txt[:batch].to(device, dtype),
                    encoder_attention_mask=torch.ones(batch, 8, device=device), num_frames=4,
                    height=16, width=16, return_dict=False)
    return _place(m, device, dtype), inputs


MODELS = {"wan": wan, "hunyuan": hunyuan, "cogvideox": cogvideox, "ltx": ltx}


def sharpen(model, gain=20.0):
    """Makes the selected layers' attention peaked on each token itself (k projection = q
    projection, q and k scaled by `gain`), the structure that lets tiles be skipped; random
    weights alone give near-uniform attention."""
    for name in ld.layers(model):
        attn = model.get_submodule(name)
        with torch.no_grad():
            attn.to_k.weight.copy_(attn.to_q.weight)
            if attn.to_k.bias is not None:
                attn.to_k.bias.copy_(attn.to_q.bias)
        for n in ("norm_q", "norm_k"):
            mod = getattr(attn, n, None) or (attn.to_q if n == "norm_q" else attn.to_k)
            mod.register_forward_hook(lambda mod, i, o: o * gain)


def run(m, inputs, t, **kw):
    """One transformer forward at timestep t, no autograd; returns the sample."""
    with torch.no_grad():
        return m(**inputs(t, **kw))[0]


def check_minus_inf_matches_stock(m, inputs, atol, rtol):
    """enable(threshold=-inf) on a stock model gives the stock output, with no dense fallback and
    one call on every layer."""
    ref = run(m, inputs, 900.0)
    ld.enable(m, threshold=-math.inf)
    out = run(m, inputs, 900.0)
    torch.testing.assert_close(out.float(), ref.float(), atol=atol, rtol=rtol)
    ctrl = ld.controllers(m)[0]
    assert ctrl.dense_fallbacks == 0
    assert all(layer.calls(ctrl.branch) == 1 for layer in ctrl.layers.values())
