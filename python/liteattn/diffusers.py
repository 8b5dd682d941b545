"""diffusers integration: `enable(pipe_or_transformer)` puts LiteAttention behind the video
self-attention of Wan (2.1/2.2), HunyuanVideo, CogVideoX and LTX-Video transformers.

How it works (no model code is copied or re-implemented):
* Each selected attention layer keeps its stock processor; a wrapper processor runs it under a
  torch function mode that catches the one `scaled_dot_product_attention` call it makes (diffusers'
  native backend) and answers it with that layer's LiteAttention. Projections, norms and RoPE stay
  the model's own, so threshold -inf reproduces the stock output.
* Which layers: Wan `blocks.*.attn1` and LTX `transformer_blocks.*.attn1` (video self-attention);
  HunyuanVideo `transformer_blocks.*.attn` / `single_transformer_blocks.*.attn` and CogVideoX
  `transformer_blocks.*.attn1` (joint text+video attention: the text tokens are must-do ranges on
  both the query and the key side, so only video<->video tiles can be skipped). Cross-attention
  (`attn2`) and HunyuanVideo's text token refiner stay dense: their processors are not touched.
* Generations: the state of every layer resets when a new generation starts, detected two ways:
  the pipeline's `scheduler.set_timesteps` (wrapped when a pipeline is given), and a transformer
  forward pre-hook that sees the timestep go back up (one host read of the timestep per forward).
* Guidance branches: with batched CFG (cond and uncond in one batch) each batch element already has
  its own mask rows, so nothing is shared. With sequential CFG the branch is the name the pipeline
  gives through `transformer.cache_context(name)` (Wan, HunyuanVideo pipelines); without one, the
  i-th transformer call at the same timestep is branch `call{i}`. Each branch has its own state.
* Padded text (HunyuanVideo's boolean key mask [B, 1, 1, N] that masks a tail of keys): each batch
  element runs with its keys cut to its valid length (one host read per transformer forward);
  any other attention mask, dropout or causal call falls back to the stock dense path (counted
  in `Controller.dense_fallbacks`).
"""
from __future__ import annotations

import contextlib
import inspect
import math
import re
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ._lib import LiteAttnError
from .module import LiteAttention, Schedule

# (class name prefix, [(module-name regex, kind)]); kind: 'self' (video only), 'text_first' or
# 'text_last' (joint attention: encoder tokens before / after the video tokens).
MODEL_RULES: List[Tuple[str, List[Tuple[str, str]]]] = [
    ("WanTransformer3DModel", [(r"^blocks\.\d+\.attn1$", "self")]),
    ("WanVACETransformer3DModel", [(r"^blocks\.\d+\.attn1$", "self")]),
    ("LTXVideoTransformer3DModel", [(r"^transformer_blocks\.\d+\.attn1$", "self")]),
    ("HunyuanVideoTransformer3DModel", [(r"^transformer_blocks\.\d+\.attn$", "text_last"),
                                        (r"^single_transformer_blocks\.\d+\.attn$",
                                         "text_last")]),
    ("CogVideoXTransformer3DModel", [(r"^transformer_blocks\.\d+\.attn1$", "text_first")]),
]

_SDPA_SIG = inspect.signature(lambda query, key, value, attn_mask=None, dropout_p=0.0,
                              is_causal=False, scale=None, enable_gqa=False: None)


class _SDPAIntercept(TorchFunctionMode):
    """Routes F.scaled_dot_product_attention to `handler` (which may return None to decline)."""

    def __init__(self, handler: Callable):
        super().__init__()
        self.handler = handler

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            out = self.handler(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)


class Controller:
    """Per-transformer bookkeeping: the layers, the current branch, generation resets."""

    def __init__(self, transformer: torch.nn.Module):
        self.transformer = transformer
        self.layers: Dict[str, LiteAttention] = {}
        self.branch: str = "call0"
        self.context_name: Optional[str] = None
        self.last_timestep: Optional[float] = None
        self.calls_at_timestep = 0
        self.generations = 0
        self.dense_fallbacks = 0
        self.calibrator = None  # set by liteattn.calibrate
        self._key_lengths: Dict[tuple, List[int]] = {}
        self.hooks: list = []

    def reset(self) -> None:
        for layer in self.layers.values():
            layer.reset()
        self.last_timestep = None
        self.calls_at_timestep = 0
        self.generations += 1
        self._key_lengths.clear()

    def before_forward(self, timestep) -> None:
        """Called at every transformer forward: new generation? which branch?"""
        t = None
        if isinstance(timestep, torch.Tensor):
            t = float(timestep.detach().float().max().item()) if timestep.numel() else None
        elif timestep is not None:
            t = float(timestep)
        if t is not None and self.last_timestep is not None and t > self.last_timestep:
            self.reset()
        if t is not None and t == self.last_timestep:
            self.calls_at_timestep += 1
        else:
            self.calls_at_timestep = 0
        self.last_timestep = t
        self._key_lengths.clear()
        self.branch = self.context_name or f"call{self.calls_at_timestep}"
        if self.calibrator is not None:
            self.calibrator.on_forward(self)

    def key_lengths(self, mask: torch.Tensor) -> Optional[List[int]]:
        """Valid key count per batch element of a boolean key mask [B|1, 1, 1, Sk] whose valid
        keys are a prefix; None if the mask is not of that form. Cached per forward."""
        key = (mask.data_ptr(), tuple(mask.shape))
        if key not in self._key_lengths:
            m = mask.reshape(mask.shape[0], mask.shape[-1])
            n = m.sum(dim=1)
            prefix = torch.arange(m.shape[1], device=m.device)[None, :] < n[:, None]
            ok = bool(torch.equal(prefix, m))
            self._key_lengths[key] = [int(x) for x in n.tolist()] if ok else None
        return self._key_lengths[key]


class LiteAttnProcessor:
    """Wraps a stock processor: runs it with its SDPA call answered by a LiteAttention layer."""

    def __init__(self, base, layer: LiteAttention, controller: Controller, kind: str, name: str):
        self.base = base
        self.layer = layer
        self.controller = controller
        self.kind = kind
        self.name = name
        self.qualname = name  # unique over a pipeline's transformers (set by enable)
        self.enabled = True
        self._signature = inspect.signature(base.__call__)

    def _run(self, *args, **kwargs):
        if not self.enabled:
            return self.base(*args, **kwargs)
        bound = self._signature.bind(*args, **kwargs)
        hidden = bound.arguments.get("hidden_states")
        encoder = bound.arguments.get("encoder_hidden_states")
        if self.kind == "self" and encoder is not None:
            return self.base(*args, **kwargs)  # used as cross-attention: stays dense
        ranges: List[Tuple[int, int]] = []
        if self.kind != "self" and encoder is not None and encoder.shape[1] > 0:
            n_vid, n_txt = hidden.shape[1], encoder.shape[1]
            ranges = [(0, n_txt)] if self.kind == "text_first" else [(n_vid, n_vid + n_txt)]
        calls = []

        def handler(*a, **kw):
            if calls:
                return None  # only the layer's first SDPA call is its self-attention
            calls.append(1)
            return self._attend(ranges, *a, **kw)

        with _SDPAIntercept(handler):
            out = self.base(*args, **kwargs)
        if not calls:
            raise LiteAttnError(f"{self.name}: the stock processor made no "
                                "scaled_dot_product_attention call; liteattn needs diffusers' "
                                "native attention backend", argument="attention_backend")
        return out

    def _attend(self, ranges, *a, **kw):
        p = _SDPA_SIG.bind(*a, **kw).arguments
        q, k, v = p["query"], p["key"], p["value"]
        mask = p.get("attn_mask")
        if p.get("dropout_p", 0.0) or p.get("is_causal", False) or q.shape[-2] != k.shape[-2]:
            self.controller.dense_fallbacks += 1
            return None
        if not p.get("enable_gqa", False) and q.shape[1] != k.shape[1]:
            return None
        scale = p.get("scale")
        branch = self.controller.branch
        if mask is None:
            return self._call(q, k, v, branch, ranges, scale)
        lengths = None
        if mask.dtype == torch.bool and mask.dim() == 4 and mask.shape[1] == 1 \
                and mask.shape[2] == 1 and mask.shape[0] in (1, q.shape[0]):
            lengths = self.controller.key_lengths(mask)
        if lengths is None:
            self.controller.dense_fallbacks += 1
            return None
        if mask.shape[0] == 1:
            lengths = lengths * q.shape[0]
        if all(n == k.shape[-2] for n in lengths):
            return self._call(q, k, v, branch, ranges, scale)
        outs = []
        for b, n in enumerate(lengths):
            if n == 0:
                self.controller.dense_fallbacks += 1
                return None
            rb = [(lo, min(hi, n)) for lo, hi in ranges if lo < n]
            outs.append(self._call(q[b:b + 1], k[b:b + 1, :, :n], v[b:b + 1, :, :n],
                                   f"{branch}/b{b}", rb, scale, rb_q=ranges))
        return torch.cat(outs, dim=0)

    def _call(self, q, k, v, branch, ranges, scale, rb_q=None):
        layer = self.layer
        if scale is not None:
            layer.scale = float(scale)
        cal = self.controller.calibrator
        if cal is not None:
            return cal.layer_call(self, q, k, v, branch, ranges, rb_q if rb_q is not None
                                  else ranges)
        return layer(q, k, v, branch, must_do_k=ranges,
                     must_do_q=rb_q if rb_q is not None else ranges)


def _wrapper_class(base_cls) -> type:
    """A LiteAttnProcessor subclass whose __call__ has the stock processor's signature (diffusers
    filters keyword arguments by inspecting the processor's signature)."""
    sig = inspect.signature(base_cls.__call__)

    def __call__(self, *args, **kwargs):
        return self._run(*args, **kwargs)

    __call__.__signature__ = sig
    return type(f"LiteAttn{base_cls.__name__}", (LiteAttnProcessor,), {"__call__": __call__})


def _rules_for(transformer) -> List[Tuple[str, str]]:
    for cls in type(transformer).__mro__:
        for prefix, rules in MODEL_RULES:
            if cls.__name__ == prefix:
                return rules
    raise LiteAttnError(f"{type(transformer).__name__} is not a supported video transformer "
                        f"(have {', '.join(p for p, _ in MODEL_RULES)})", argument="transformer")


def _transformers_of(target) -> List[torch.nn.Module]:
    if hasattr(target, "transformer") and not isinstance(target, torch.nn.Module):
        found = [getattr(target, n, None) for n in ("transformer", "transformer_2")]
        return [t for t in found if t is not None]
    return [target]


def _pre_hook(controller: Controller):
    def hook(module, args, kwargs):
        ts = kwargs.get("timestep")
        if ts is None:
            names = list(inspect.signature(module.forward).parameters)
            if "timestep" in names and names.index("timestep") < len(args):
                ts = args[names.index("timestep")]
        controller.before_forward(ts)
    return hook


def _wrap_cache_context(transformer, controller: Controller) -> None:
    original = getattr(transformer, "cache_context", None)
    if original is None:
        return

    @contextlib.contextmanager
    def cache_context(name, *args, **kwargs):
        controller.context_name = str(name)
        try:
            with original(name, *args, **kwargs):
                yield
        finally:
            controller.context_name = None

    transformer.cache_context = cache_context


def enable(target, threshold: Schedule = -10.0, criterion: str = "mass", dense_calls: int = 0,
           refresh_every: int = 0, record_density: bool = False) -> List[Controller]:
    """Installs LiteAttention on a diffusers video pipeline or transformer (Wan 2.1/2.2 with both
    experts, HunyuanVideo, CogVideoX, LTX-Video). `threshold` is a constant, a per-step list or a
    callable(step). Returns one Controller per transformer. Idempotent: a second call updates the
    settings of the layers already installed."""
    controllers = []
    for index, tr in enumerate(_transformers_of(target)):
        ctrl = getattr(tr, "_liteattn_controller", None)
        if ctrl is None:
            ctrl = Controller(tr)
            rules = _rules_for(tr)
            for name, module in tr.named_modules():
                kind = next((k for pat, k in rules if re.match(pat, name)), None)
                if kind is None or not hasattr(module, "processor"):
                    continue
                layer = LiteAttention(layout="bhsd")
                proc = _wrapper_class(type(module.processor))(module.processor, layer, ctrl,
                                                              kind, name)
                module.set_processor(proc) if hasattr(module, "set_processor") else setattr(
                    module, "processor", proc)
                proc.qualname = _qualname(index, name)
                ctrl.layers[name] = layer
            if not ctrl.layers:
                raise LiteAttnError(f"no attention layer of {type(tr).__name__} matched",
                                    argument="transformer")
            ctrl.hooks.append(tr.register_forward_pre_hook(_pre_hook(ctrl), with_kwargs=True))
            _wrap_cache_context(tr, ctrl)
            tr._liteattn_controller = ctrl
        for layer in ctrl.layers.values():
            layer.threshold = threshold
            layer.criterion = criterion
            layer.dense_calls = dense_calls
            layer.refresh_every = refresh_every
            layer.record_density = record_density
            layer._branches.clear()  # a new policy needs new C states
        controllers.append(ctrl)
    if not isinstance(target, torch.nn.Module) and hasattr(target, "scheduler"):
        _wrap_set_timesteps(target.scheduler, controllers)
    return controllers


def _wrap_set_timesteps(scheduler, controllers: List[Controller]) -> None:
    if getattr(scheduler, "_liteattn_wrapped", False):
        scheduler._liteattn_controllers[:] = controllers
        return
    original = scheduler.set_timesteps
    scheduler._liteattn_controllers = list(controllers)

    def set_timesteps(*args, **kwargs):
        for c in scheduler._liteattn_controllers:
            c.reset()
        return original(*args, **kwargs)

    scheduler.set_timesteps = set_timesteps
    scheduler._liteattn_wrapped = True


def controllers(target) -> List[Controller]:
    out = [getattr(t, "_liteattn_controller", None) for t in _transformers_of(target)]
    out = [c for c in out if c is not None]
    if not out:
        raise LiteAttnError("liteattn.diffusers.enable() was not called on this model",
                            argument="target")
    return out


def reset(target) -> None:
    """Resets every layer's state (a new generation) explicitly."""
    for c in controllers(target):
        c.reset()


def set_enabled(target, enabled: bool) -> None:
    """Turns skipping off (stock processors run) or back on, keeping the states."""
    for c in controllers(target):
        for module in c.transformer.modules():
            proc = getattr(module, "processor", None)
            if isinstance(proc, LiteAttnProcessor):
                proc.enabled = enabled


def _qualname(index: int, name: str) -> str:
    return name if index == 0 else f"transformer_{index + 1}.{name}"


def layers(target) -> Dict[str, LiteAttention]:
    """Layer name -> LiteAttention over every transformer of target (prefixed for Wan 2.2's
    second expert)."""
    out = {}
    for i, c in enumerate(controllers(target)):
        for name, layer in c.layers.items():
            out[_qualname(i, name)] = layer
    return out


def density(target, branch: Optional[str] = None) -> Dict[str, float]:
    """Density of the tiles each layer computed in its most recent call (1.0 = dense)."""
    out = {}
    for name, layer in layers(target).items():
        branches = [branch] if branch else layer.branches
        vals = [layer.density(b)[0] for b in branches if b in layer.branches]
        out[name] = sum(vals) / len(vals) if vals else math.nan
    return out

