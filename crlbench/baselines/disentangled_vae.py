"""Weakly supervised disentangled VAE: ILCM without cross-variable inputs.

The reference point of ILCM (Brehmer et al. 2022, arXiv 2203.16437, section 6): the same
pairs, noise encoder, intervention encoder and phased training as
:class:`~crlbench.baselines.ilcm.ILCM`, but the solution functions ``s_i(e_i)`` have no
inputs from the other components, so the prior of an intervened component does not depend
on the others (close to Locatello et al., ICML 2020, with an explicit intervention
encoder). It disentangles the exogenous *noise*; its latents are the noise encodings, which
mix the causal variables wherever the graph has edges, hence its low causal
disentanglement. Its graph comes from the intervention-based learner on its inferred
``(z, z~, target)`` triples.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from crlbench.baselines.ilcm import ILCM

__all__ = ["DisentangledVAE"]


class DisentangledVAE(ILCM):
    """Weakly supervised disentangled VAE (hyperparameters and loop as :class:`ILCM`)."""

    name: ClassVar[str] = "disentangled-vae"
    graph_methods: ClassVar[tuple[str, ...]] = ("interventions",)
    cross: ClassVar[bool] = False

    def _encode_t(self, x: Tensor) -> Tensor:
        return self._check_ready().encode_noise(x)[0]
