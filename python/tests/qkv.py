"""Inputs with a known attention structure, shared by the CPU and GPU tests."""


def blocky_qkv(torch, B=1, S=512, H=2, D=64, block=128, gain=10.0, noise=0.3, dtype=None,
               seed=0, device="cpu"):
    """q, k, v [B, S, H, D] where tokens of the same `block` share a direction: attention stays
    inside blocks, so off-diagonal tiles carry (almost) no mass and get marked."""
    g = torch.Generator().manual_seed(seed)
    nb = (S + block - 1) // block
    u = torch.randn(B, nb, H, D, generator=g)
    u = u / u.norm(dim=-1, keepdim=True) * gain
    base = u.repeat_interleave(block, dim=1)[:, :S]
    q = base + noise * torch.randn(B, S, H, D, generator=g)
    k = base + noise * torch.randn(B, S, H, D, generator=g)
    v = torch.randn(B, S, H, D, generator=g)
    if dtype is not None:
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    return q.to(device), k.to(device), v.to(device)
