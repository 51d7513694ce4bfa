"""ILCM against the original implementation's figures on the same data and budget (slow).

``toy-son-pairs-v1``, n = 4, smoke size, dataset seed 2 (5 of 6 possible edges), the
original's budget (90 epochs of 79 batches of 64 = 7,110 steps), training seeds 0, 1, 2.
The original code scored 0.970 / 0.970 causal disentanglement, 0.935 / 0.936 intervention
accuracy and SHD 0 with its own graph heuristic (docs/results.md, with crlbench's figures
and the remaining gap). About 3 minutes per seed on one quiet CPU core:
``pytest -m slow tests/baselines/test_ilcm_reference.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from crlbench.baselines import method_class
from crlbench.metrics import dci_score, intervention_accuracy_score, shd_error


def _run(ds, seed: int) -> tuple[float, float, int]:
    m = method_class("ilcm")()
    m.fit(ds["train"], ds["val"], "7110steps", seed, progress=False)
    obs = np.asarray(ds["test"].observations)
    z = m.encode(obs[:, 0])
    res = dci_score(ds["test"].latents[:, 0], z, regressor="gbt")
    acc = intervention_accuracy_score(ds["test"].targets, m.infer_targets(obs[:, 0], obs[:, 1]))
    imp = np.asarray(res.importances)  # (latents, variables)
    latent, var = linear_sum_assignment(-imp)
    matching = np.empty(imp.shape[1], int)
    matching[var] = latent  # true variable k -> learned variable matching[k]
    shd = shd_error(ds.graph.instantaneous, m.graph(), matching=matching)
    return res.disentanglement, acc, int(shd)


@pytest.mark.slow
def test_ilcm_matches_the_original_on_accuracy_and_graph(toy_pairs_n4):
    runs = [_run(toy_pairs_n4, seed) for seed in (0, 1, 2)]
    dci, acc, shd = map(np.array, zip(*runs))
    assert (shd == 0).all(), runs
    assert (acc >= 0.93).all(), runs  # the original: 0.935 / 0.936
    # The original reaches 0.970; crlbench measured 0.946 to 0.955 (docs/results.md).
    assert dci.mean() >= 0.94 and dci.min() >= 0.93, runs
