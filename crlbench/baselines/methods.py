"""Method registry: names -> lazy ``"module:Class"`` entry points, with did-you-mean errors.

``method_class("ilcm")`` imports :mod:`crlbench.baselines.ilcm` only when asked. Users'
methods are named by their own entry point (``"my_pkg.module:MyMethod"``) and need no
registration.
"""

from __future__ import annotations

from typing import Any

from crlbench.errors import UnknownIdError
from crlbench.registry import load_entry_point, suggest

__all__ = ["METHODS", "method_class", "register_method"]

#: Registered baselines: name -> entry point.
METHODS: dict[str, str] = {
    "ilcm": "crlbench.baselines.ilcm:ILCM",
    "disentangled-vae": "crlbench.baselines.disentangled_vae:DisentangledVAE",
    "beta-vae": "crlbench.baselines.beta_vae:BetaVAE",
    "citris-vae": "crlbench.baselines.citris_vae:CitrisVAE",
    "citris-nf": "crlbench.baselines.citris_nf:CitrisNF",
    "ivae": "crlbench.baselines.ivae:IVAE",
    "slowvae": "crlbench.baselines.slowvae:SlowVAE",
}


def register_method(name: str, entry_point: str) -> None:
    """Register a method under ``name`` (``"package.module:Class"``)."""
    if name in METHODS:
        raise ValueError(f"method {name!r} is already registered")
    METHODS[name] = entry_point


def method_class(name: str) -> Any:
    """The class of a registered method name or of a ``"module:Class"`` entry point."""
    if ":" in name:
        return load_entry_point(name)
    if name not in METHODS:
        hint = str(suggest(name, sorted(METHODS), "method")).split(" Run `")[0]
        raise UnknownIdError(f"{hint} Known methods: {', '.join(sorted(METHODS))}; or pass 'package.module:Class'.")
    return load_entry_point(METHODS[name])
