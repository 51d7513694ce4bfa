"""Numeric precision of training: bf16 autocast for the conv networks on AMX CPUs and GPUs.

The image baselines spend nearly all their time in the conv encoder and decoder; their
convolutions and matrix products run several times faster in bfloat16 on CPUs with AMX
(Intel Advanced Matrix Extensions, ``amx_bf16``) and on GPUs. Everything that is small or
numerically delicate (losses, log-determinants, priors, the flows' MADE layers, MLPs on
vectors) stays in float32: only networks that subclass :class:`AutocastNet` (the conv
encoder and decoder of :mod:`crlbench.baselines.nn`) run their body under
:func:`torch.autocast`, and they hand float32 back.

Settings (``LoopConfig.precision``, CLI ``--precision``):

- ``"auto"``: bf16 where it is fast (a CPU with AMX, or a CUDA GPU that supports bf16;
  fp16 with a gradient scaler on older GPUs), else fp32;
- ``"fp32"``: everything in float32;
- ``"bf16"``: bf16 autocast even where it is slow (a warning says so on a CPU without AMX);
- ``"fp16"``: fp16 autocast with a gradient scaler (CUDA only).

:func:`configure` applies a resolved :class:`Precision` to every :class:`AutocastNet` of a
module: the autocast dtype, the memory layout (``channels_last`` where measured faster,
docs/benchmarks.md) and, optionally, ``torch.compile`` of the network (fuses BatchNorm,
SiLU, upsampling and residual adds between the convolutions).
"""

from __future__ import annotations

import functools
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from crlbench.errors import CrlbenchError

__all__ = [
    "PRECISIONS",
    "Precision",
    "AutocastNet",
    "cpu_has_amx",
    "resolve_precision",
    "configure",
    "autocast_nets",
    "SlowPrecisionWarning",
]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class SlowPrecisionWarning(UserWarning):
    """bf16 was asked for on hardware that computes it slowly (no AMX)."""


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bf16 tiles (oneDNN's fast bf16 convolutions and matmuls)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if probe is not None:
        try:
            return bool(probe())
        except RuntimeError:
            pass
    try:
        with open("/proc/cpuinfo") as f:
            return any("amx_bf16" in line for line in f if line.startswith("flags"))
    except OSError:
        return False


@dataclass(frozen=True)
class Precision:
    """A resolved precision.

    Attributes:
        name: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        device_type: ``"cpu"`` or ``"cuda"``.
        channels_last: Conv networks keep their activations in NHWC layout.
    """

    name: str
    device_type: str
    channels_last: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    @property
    def mixed(self) -> bool:
        """The conv networks run under autocast."""
        return self.name != "fp32"

    @property
    def needs_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's range."""
        return self.name == "fp16"

    def autocast(self) -> torch.autocast:
        """The autocast context of this precision (a no-op for fp32)."""
        dtype = self.dtype if self.mixed else torch.bfloat16
        return torch.autocast(self.device_type, dtype=dtype, enabled=self.mixed)


def resolve_precision(precision: str, device: torch.device | str) -> Precision:
    """``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"`` on ``device`` -> a :class:`Precision`.

    Raises:
        CrlbenchError: an unknown name, or fp16 on a CPU.
    """
    if precision not in PRECISIONS:
        raise CrlbenchError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if precision == "auto":
        if cuda:
            name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            name = "bf16" if cpu_has_amx() else "fp32"
    else:
        name = precision
    if name == "fp16" and not cuda:
        raise CrlbenchError("precision fp16 needs a CUDA device; on a CPU use --precision bf16 (AMX) or fp32")
    if name == "bf16" and precision == "bf16" and not cuda and not cpu_has_amx():
        warnings.warn(
            "precision bf16 on a CPU without AMX (no amx_bf16 in its flags): bf16 convolutions are emulated "
            "and usually slower than fp32 here; use --precision auto or fp32",
            SlowPrecisionWarning,
            stacklevel=2,
        )
    # NHWC is oneDNN's native layout, in bf16 and in fp32 (conv networks, 2 threads: 1.2-1.8x
    # over NCHW in fp32 at 32 and 64 px, docs/benchmarks.md), and cuDNN's for tensor cores,
    # which fp32 does not use on CUDA: there fp32 keeps NCHW.
    return Precision(name, dev.type, channels_last=dev.type == "cpu" or name != "fp32")


class AutocastNet(nn.Module):
    """A network whose :meth:`body` runs under the run's precision; its output is float32.

    Subclasses implement ``body(x)`` (and call :meth:`layout` on their feature maps).
    :func:`configure` sets the precision; until then the network runs in float32. A
    compiled network uses its compiled body for training steps only: evaluation and
    inference (other batch sizes, no gradients, BatchNorm in eval mode) run eagerly, so
    they cost no recompilation.
    """

    precision: Precision | None = None
    _compiled: Callable[[Tensor], Tensor] | None = None

    def body(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if self._compiled is not None and self.training and torch.is_grad_enabled():
            return self._compiled(x)
        return self._run(x)

    def _run(self, x: Tensor) -> Tensor:
        p = self.precision
        if p is None or not p.mixed:
            return self.body(x)
        with p.autocast():
            out = self.body(x)
        out = out.float()
        return out.contiguous() if out.ndim == 4 else out

    def layout(self, h: Tensor) -> Tensor:
        """``h`` (B, C, H, W) in the layout of the configured precision."""
        p = self.precision
        return h.contiguous(memory_format=torch.channels_last) if p is not None and p.channels_last else h


def autocast_nets(module: nn.Module) -> Iterator[AutocastNet]:
    """Every :class:`AutocastNet` inside ``module`` (outermost only)."""
    for m in module.modules():
        if isinstance(m, AutocastNet):
            yield m


def configure(module: nn.Module, precision: Precision, *, compile: bool = False) -> bool:
    """Apply ``precision`` to every :class:`AutocastNet` of ``module`` (in place).

    Args:
        module: Any module; networks outside :class:`AutocastNet` stay float32.
        precision: The resolved precision.
        compile: ``torch.compile`` each network's training forward (state-dict keys unchanged).

    Returns:
        Whether ``module`` has a network the precision applies to.

    Raises:
        CrlbenchError: ``compile`` on a CPU without a C++ compiler (inductor needs one).
    """
    nets = list(autocast_nets(module))
    if compile and nets and precision.device_type == "cpu" and not (shutil.which("g++") or shutil.which("c++")):
        raise CrlbenchError("torch.compile on a CPU needs a C++ compiler (g++); install one or train without --compile")
    for net in nets:
        net.precision = precision
        fmt = torch.channels_last if precision.channels_last else torch.contiguous_format
        for p in net.parameters():
            if p.ndim == 4:
                p.data = p.data.contiguous(memory_format=fmt)
        net._compiled = torch.compile(net._run, dynamic=False) if compile else None
    return bool(nets)
