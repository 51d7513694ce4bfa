"""crlbench: regenerable interventional datasets, reference baselines, canonical metrics
and a leaderboard for causal representation learning."""

__version__ = "0.1.0"

__all__ = ["__version__"]
