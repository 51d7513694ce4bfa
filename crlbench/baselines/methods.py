"""Method registry: names -> lazy ``"module:Class"`` entry points, with did-you-mean errors.

``method_class("ilcm")`` imports :mod:`crlbench.baselines.ilcm` only when asked. A registered
method is an official baseline of every track of its mode: the protocols read their method
lists and per-tier settings from this table. Users' methods are named by their own entry
point (``"my_pkg.module:MyMethod"``) and need no registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crlbench.errors import UnknownIdError
from crlbench.registry import load_entry_point, suggest

__all__ = ["MethodEntry", "METHODS", "method_class", "register_method", "official_methods"]


@dataclass(frozen=True)
class MethodEntry:
    """A registered method.

    Args:
        entry_point: ``"package.module:Class"``.
        mode: The track mode it trains on and is an official baseline of (``"pairs"`` or
            ``"sequences"``).
        tier_params: The protocols' per-tier hyperparameters it takes on image tracks
            (``channels``, ``n_latents``, ``max_options``).
    """

    entry_point: str
    mode: str
    tier_params: tuple[str, ...] = ("channels",)


#: Registered baselines: name -> entry.
METHODS: dict[str, MethodEntry] = {
    "ilcm": MethodEntry("crlbench.baselines.ilcm:ILCM", "pairs", ("channels", "max_options")),
    "disentangled-vae": MethodEntry("crlbench.baselines.disentangled_vae:DisentangledVAE", "pairs", ("channels", "max_options")),
    "beta-vae": MethodEntry("crlbench.baselines.beta_vae:BetaVAE", "pairs"),
    "citris-vae": MethodEntry("crlbench.baselines.citris_vae:CitrisVAE", "sequences", ("channels", "n_latents")),
    "citris-nf": MethodEntry("crlbench.baselines.citris_nf:CitrisNF", "sequences", ("channels", "n_latents")),
    "ivae": MethodEntry("crlbench.baselines.ivae:IVAE", "sequences", ("channels", "n_latents")),
    "slowvae": MethodEntry("crlbench.baselines.slowvae:SlowVAE", "sequences", ("channels", "n_latents")),
}


def register_method(name: str, entry_point: str, mode: str, tier_params: tuple[str, ...] = ("channels",)) -> None:
    """Register a method under ``name`` (``"package.module:Class"``) as a baseline of ``mode``."""
    if name in METHODS:
        raise ValueError(f"method {name!r} is already registered")
    METHODS[name] = MethodEntry(entry_point, mode, tuple(tier_params))


def official_methods(mode: str) -> tuple[str, ...]:
    """The registered methods of a track mode, in registration order."""
    return tuple(name for name, entry in METHODS.items() if entry.mode == mode)


def method_class(name: str) -> Any:
    """The class of a registered method name or of a ``"module:Class"`` entry point."""
    if ":" in name:
        return load_entry_point(name)
    if name not in METHODS:
        hint = str(suggest(name, sorted(METHODS), "method")).split(" Run `")[0]
        raise UnknownIdError(f"{hint} Known methods: {', '.join(sorted(METHODS))}; or pass 'package.module:Class'.")
    return load_entry_point(METHODS[name].entry_point)
