"""The pairs baselines on tiny data: contract shapes, images, bad input, run directory, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crlbench.baselines import check_method, method_class
from crlbench.baselines.methods import official_methods
from crlbench.baselines.run import RUN_FILES, load_run, train
from crlbench.datasets.loaders import Pairs, Sequence
from crlbench.errors import CrlbenchError

METHODS = list(official_methods("pairs"))
FAST = {"progress": False}


@pytest.mark.parametrize("name", METHODS)
def test_vector_pairs_contract(name, vector_pairs):
    train_, val = vector_pairs
    m = method_class(name)()
    res = m.fit(train_, val, "40steps", 0, **FAST)
    assert res.steps == 40
    x = np.asarray(val.observations)
    caps = check_method(m, x[:, 0], x[:, 1])
    assert set(caps) == {"assignment", "decode", "graph", "infer_targets"}
    assert m.encode(x[:, 0]).shape == (len(x), 3)
    assert m.assignment().shape == (3, 4)
    g = m.graph()
    assert g.shape == (3, 3) and np.all(np.diag(g) == 0)
    t = m.infer_targets(x[:, 0], x[:, 1])
    assert t.min() >= 0 and t.max() <= 3


@pytest.mark.parametrize("name", ["ilcm", "beta-vae"])
def test_image_pairs(name, tiny_image_pairs):
    train_, val = tiny_image_pairs
    m = method_class(name)(channels=8, loop={"batch_size": 4})
    m.fit(train_, val, "3steps", 0, **FAST)
    imgs = np.asarray(val.observations)
    assert m.encode(imgs[:, 0]).shape == (len(imgs), 2)
    out = m.decode(m.encode(imgs[:, 0]))
    assert out.shape == imgs[:, 0].shape and out.dtype == np.uint8
    assert m.infer_targets(imgs[:, 0], imgs[:, 1]).shape == (len(imgs),)


def test_ilcm_graph_option(vector_pairs):
    m = method_class("ilcm")(graph_method="interventions")
    m.fit(*vector_pairs, "20steps", 0, **FAST)
    assert m.graph().shape == (3, 3)
    with pytest.raises(CrlbenchError, match="graph_method"):
        method_class("disentangled-vae")(graph_method="solution")


def test_sequences_are_refused(vector_pairs):
    seq = Sequence(latents=np.zeros((10, 3)), targets=np.zeros((10, 3), np.uint8), noise=np.zeros((10, 3)), observations=np.zeros((10, 3)))
    with pytest.raises(CrlbenchError, match="ilcm needs a pairs dataset.*sequences"):
        method_class("ilcm")().fit(seq, None, "1steps", 0)


def test_missing_targets_are_named(vector_pairs):
    p = vector_pairs[0]
    no_targets = Pairs(latents=p.latents, targets=None, noise=p.noise, observations=p.observations)  # type: ignore[arg-type]
    with pytest.raises(CrlbenchError, match="targets"):
        method_class("ilcm")().fit(no_targets, None, "1steps", 0)


def test_nan_stops_with_message(vector_pairs):
    train_, val = vector_pairs
    bad = Pairs(latents=train_.latents, targets=train_.targets, noise=train_.noise, observations=train_.observations * np.nan)
    with pytest.raises(CrlbenchError, match="at step 0"):
        method_class("beta-vae")().fit(bad, val, "5steps", 0, **FAST)


def test_run_directory_and_resume(toy_pairs_n4, tmp_path):
    out = train("beta-vae", toy_pairs_n4, 0, tmp_path / "run", budget="30steps", progress=False)
    for f in RUN_FILES:
        assert (out / f).exists(), f
    run = load_run(out)
    assert np.asarray(run["model"]["graph"]).shape == (4, 4)
    assert run["config"]["dataset"]["spec_hash"] == toy_pairs_n4.spec.hash
    # Same command again: resumes from the final checkpoint, no retraining.
    train("beta-vae", toy_pairs_n4, 0, out, budget="30steps", progress=False)
    assert json.loads((out / "log.json").read_text())["resumed_at"] == [30]
    with pytest.raises(CrlbenchError, match="another configuration"):
        train("beta-vae", toy_pairs_n4, 1, out, budget="30steps", progress=False)


def test_cli_train(toy_pairs_n4, tmp_path, capsys):
    from crlbench.cli import main

    out = tmp_path / "cli"
    rc = main(
        [
            "train",
            "--method",
            "ilcm",
            "--dataset",
            str(toy_pairs_n4.path),
            "--seed",
            "1",
            "--out",
            str(out),
            "--budget",
            "20steps",
            "--no-progress",
            "--threads",
            "1",
        ]
    )
    assert rc == 0 and (out / "result.json").exists()
    assert "20 steps" in capsys.readouterr().out
    # the run's predictions are what the track's Evaluator scores (dataset seed 2 here)
    from dataclasses import replace

    from crlbench.leaderboard.evaluate import Evaluator
    from crlbench.leaderboard.protocols import protocol

    with np.load(out / "predictions.npz") as z:
        preds = {k: z[k] for k in z.files}
    ev = Evaluator(replace(protocol("toy-son-pairs-v1"), dataset_seed=2), toy_pairs_n4).evaluate(preds)
    assert {"r2_diag", "shd", "intervention_accuracy"} <= set(ev.metrics) and ev.assignment == "learned"
    assert main(["train", "--method", "ilcn", "--dataset", str(toy_pairs_n4.path), "--out", str(out)]) == 2
    assert "Did you mean 'ilcm'" in capsys.readouterr().err


def test_cli_wrong_mode(tmp_path, capsys):
    from crlbench.cli import main
    from crlbench.datasets.build import generate

    from ..helpers import tiny_spec

    path = generate(tiny_spec("toy-son-tris-v1"), tmp_path, progress=False)
    assert main(["train", "--method", "ilcm", "--dataset", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "ilcm trains on pairs datasets" in capsys.readouterr().err


def test_ilcm_top_options(vector_pairs):
    m = method_class("ilcm")(max_options=2)
    res = m.fit(*vector_pairs, "30steps", 0, **FAST)  # crosses every phase, hard one included
    assert res.steps == 30 and np.isfinite(res.log["val"][-1]["loss"])
