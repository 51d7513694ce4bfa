"""The method contract, the budget, and every registered method fitted a few steps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crlbench.baselines import METHODS, Budget, check_method, method_class
from crlbench.baselines.contract import LearnsGraph, Method
from crlbench.baselines.run import make_method
from crlbench.datasets import load
from crlbench.datasets.build import generate
from crlbench.errors import CrlbenchError, UnknownIdError
from crlbench.leaderboard.predictions import predict
from tests.helpers import tiny_spec


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


#: What every method of a mode must offer for its track's metrics: pairs methods a graph
#: (SHD) and inferred targets (intervention accuracy), sequence methods a decoder (triplets).
NEEDED = {"pairs": {"graph", "infer_targets"}, "sequences": {"decode"}}
TOY = {"pairs": "toy-son-pairs-v1", "sequences": "toy-son-tris-v1"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """mode -> a small generated toy dataset of that mode (generated once)."""
    cache = {}

    def get(mode):
        if mode not in cache:
            spec = tiny_spec(TOY[mode])
            spec = replace(spec, splits={s: 3 * n for s, n in spec.splits.items()})
            cache[mode] = load(generate(spec, tmp_path_factory.mktemp(mode), progress=False))
        return cache[mode]

    return get


@pytest.mark.parametrize("name", list(METHODS))
def test_every_registered_method_fits_and_predicts(name, toy):
    entry = METHODS[name]
    cls = method_class(name)
    assert entry.mode in cls.modes
    assert set(entry.tier_params) <= set(cls.defaults()), "the protocols' tier settings must be its hyperparameters"
    data = toy(entry.mode)
    model = make_method(name, loop={"batch_size": 4}, device="cpu")
    model.fit(data["train"], data["val"], Budget.parse("3steps"), 0)
    obs = np.asarray(data["test"].observations)
    x, x_tilde = (obs[:, 0], obs[:, 1]) if entry.mode == "pairs" else (obs, None)
    caps = check_method(model, x, x_tilde)  # shapes of every output after fitting
    assert isinstance(model, Method) and NEEDED[entry.mode] <= set(caps)
    preds = predict(model, data)
    n_probe = len(data["test_indep"])
    assert preds["probe_latents"].shape[0] == n_probe and np.isfinite(preds["probe_latents"]).all()
    if entry.mode == "pairs":
        assert preds["test_inferred_targets"].shape == (len(data["test"]),)
        assert preds["graph"].shape[0] == preds["graph"].shape[1]
    else:
        trip = np.asarray(data["test_triplets"].observations)
        assert preds["triplet_decoded"].shape == (len(trip), *trip.shape[2:])


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
