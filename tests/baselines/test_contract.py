from __future__ import annotations

import numpy as np
import pytest

from crlbench.baselines import METHODS, Budget, check_method, method_class
from crlbench.baselines.contract import LearnsGraph, Method, capabilities
from crlbench.errors import CrlbenchError, UnknownIdError


@pytest.mark.parametrize(
    "text, epochs, steps",
    [("90ep", 90, None), ("3epochs", 3, None), ("500steps", None, 500), ("500", None, 500), (7, None, 7)],
)
def test_budget_parse(text, epochs, steps):
    b = Budget.parse(text)
    assert (b.epochs, b.steps) == (epochs, steps)
    assert Budget.parse(str(b)) == b


@pytest.mark.parametrize("bad", ["", "ten", "5 parsecs", "0"])
def test_budget_rejects(bad):
    with pytest.raises(CrlbenchError):
        Budget.parse(bad)


def test_budget_total_steps():
    assert Budget(epochs=3).total_steps(10) == 30
    assert Budget(steps=7).total_steps(10) == 7


@pytest.mark.parametrize("name", sorted(METHODS))
def test_registered_methods_follow_contract(name):
    m = method_class(name)()
    assert isinstance(m, Method)
    assert check_method(m) == capabilities(m)


@pytest.mark.parametrize("name", ["ilcm", "disentangled-vae", "beta-vae"])
def test_pairs_baselines_have_every_capability(name):
    m = method_class(name)()
    assert {"graph", "infer_targets", "decode", "assignment"} <= set(capabilities(m))


def test_unknown_method_suggests():
    with pytest.raises(UnknownIdError, match="ilcm"):
        method_class("ilcn")


def test_entry_point_names_a_class():
    assert method_class("crlbench.baselines.ilcm:ILCM").name == "ilcm"


class _UserMethod:
    """A user's method: only fit and encode, plus a graph."""

    def fit(self, train, val, budget, seed):
        pass

    def encode(self, x):
        return np.asarray(x)[:, :2]

    def graph(self):
        return np.zeros((2, 2))


def test_user_method_is_structurally_typed():
    m = _UserMethod()
    assert isinstance(m, Method) and isinstance(m, LearnsGraph)
    assert check_method(m, np.zeros((5, 3))) == ["graph"]


def test_check_method_catches_bad_shapes():
    class Bad(_UserMethod):
        def encode(self, x):
            return np.zeros(len(x))

    with pytest.raises(CrlbenchError, match="encode"):
        check_method(Bad(), np.zeros((5, 3)))
    with pytest.raises(CrlbenchError, match="missing"):
        check_method(object())


def test_unknown_hyperparameter():
    with pytest.raises(CrlbenchError, match="unknown parameters"):
        method_class("ilcm")(nonsense=1)
