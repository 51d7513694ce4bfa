"""Scenes: structural causal models with renderers (see base.Scene)."""

from crlbench.simulators.render import render_states

__all__ = ["render_states"]
