"""Scenes: structural causal models with renderers (see base.Scene)."""
