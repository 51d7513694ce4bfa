"""Reference CRL methods on one training loop, behind the method contract.

Light to import: the registry and the contract need no torch; the method classes and
:func:`crlbench.baselines.run.train` (the Python API of ``crlbench train``) import it when
used. ``crlbench.baselines.loop`` is the training loop module. See ``docs/training.md``.
"""

from __future__ import annotations

from crlbench.baselines.contract import Budget, Method, check_method
from crlbench.baselines.methods import METHODS, method_class, register_method

__all__ = ["Budget", "Method", "check_method", "METHODS", "method_class", "register_method"]
