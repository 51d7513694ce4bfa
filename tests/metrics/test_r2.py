"""Typed R², the R² matrix and diag / sep: exact answers and cross-checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score

from crlbench.core import Variable
from crlbench.metrics import diag_score, probe_matrices, r2_matrix, sep_error, typed_r2_score
from crlbench.metrics.probes import PROBES, CITRISProbe, MLPProbe, fit_probe_predictions

from .conftest import identity_assignment, sample_truth


def test_continuous_equals_sklearn_r2_score(rng):
    y = rng.normal(size=(300, 4))
    p = y + rng.normal(scale=0.7, size=y.shape)
    v = [Variable(f"z{i}", low=-3, high=5) for i in range(4)]  # the range cancels
    np.testing.assert_allclose(
        typed_r2_score(y, p, variables=v, multioutput="raw_values"),
        r2_score(y, p, multioutput="raw_values"),
        rtol=1e-12,
    )
    assert typed_r2_score(y, p, multioutput="uniform_average") == pytest.approx(r2_score(y, p))


@pytest.mark.parametrize("kind", ["continuous", "angle", "categorical"])
def test_perfect_is_one_and_constant_predictor_is_zero(rng, kind):
    v = [Variable("v", kind, n_categories=4 if kind == "categorical" else 0)]
    y = sample_truth(rng, 500, v)
    assert typed_r2_score(y, y, variables=v) == pytest.approx([1.0])
    from crlbench.metrics import kinds

    const = np.broadcast_to(kinds.baseline(y, v), y.shape)
    assert typed_r2_score(y, const, variables=v) == pytest.approx([0.0], abs=1e-12)


def test_angle_wraps():
    v = [Variable("a", "angle")]
    y = np.array([[0.1], [3.0], [6.2], [1.0]])
    assert typed_r2_score(y, y + 2 * np.pi, variables=v) == pytest.approx([1.0])
    assert typed_r2_score(y, y - 4 * np.pi, variables=v) == pytest.approx([1.0])


def test_categorical_analytic():
    # mode = 0 with frequency 0.6 -> baseline error 0.4; error rate 0.2 -> R² = 1 - 0.2 / 0.4
    v = [Variable("c", "categorical", n_categories=3)]
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2], dtype=float)[:, None]
    p = y.copy()
    p[[0, 6]] = 2
    assert typed_r2_score(y, p, variables=v) == pytest.approx([0.5])


def test_angle_analytic():
    # truth {0, pi}: circular mean undefined -> constant 0, d0 = (0, 1), E[d0²] = 1/2;
    # predictions off by 90 degrees: d = 1/2 each, E[d²] = 1/4 -> R² = 1/2
    v = [Variable("a", "angle")]
    y = np.array([[0.0], [np.pi]])
    assert typed_r2_score(y, y + np.pi / 2, variables=v) == pytest.approx([0.5])


def test_constant_target_follows_sklearn():
    y = np.ones((5, 1))
    assert typed_r2_score(y, y) == pytest.approx(1.0)
    assert typed_r2_score(y, y + 1) == pytest.approx(0.0)


def test_per_variable_is_mean_over_dims(rng, mixed):
    y = sample_truth(rng, 400, mixed)
    p = y + rng.normal(scale=0.3, size=y.shape) * np.array([1, 2, 0.5, 0, 0.1])
    raw = typed_r2_score(y, p, variables=mixed, multioutput="raw_values")
    per_var = typed_r2_score(y, p, variables=mixed, multioutput="per_variable")
    assert raw.shape == (5,) and per_var.shape == (4,)
    assert per_var[0] == pytest.approx(raw[:2].mean())
    assert typed_r2_score(y, p, variables=mixed, multioutput="uniform_average") == pytest.approx(per_var.mean())


def test_diag_and_sep_known_matrix():
    m = np.array(
        [
            [0.9, 0.9, 0.9],  # row 0 (unassigned) enters neither diag nor sep
            [1.0, 0.2, 0.1],
            [0.3, 0.8, 0.0],
            [0.0, 0.5, 0.6],
        ]
    )
    assert diag_score(m) == pytest.approx((1.0 + 0.8 + 0.6) / 3)
    assert sep_error(m) == pytest.approx((0.2 + 0.3 + 0.5) / 3)
    np.testing.assert_allclose(sep_error(m[1:], multioutput="raw_values"), [0.2, 0.3, 0.5])
    assert sep_error(np.array([[0.0], [0.7]])) == 0.0  # one variable: no off-diagonal


def test_r2_matrix_rows_are_groups(rng, mixed):
    y = sample_truth(rng, 200, mixed)
    preds = np.stack([np.broadcast_to(y.mean(0), y.shape), y, y])
    m = r2_matrix(y, preds, variables=mixed)
    assert m.shape == (3, 4)
    np.testing.assert_allclose(m[1:], 1.0)
    assert r2_matrix(y, preds, variables=mixed, multioutput="raw_values").shape == (3, 5)


def _identity_latents(y, rng, extra=2):
    return np.column_stack([y, rng.normal(size=(len(y), extra))])


def test_identity_encoder_diag_one_sep_zero_kernel(rng, mixed):
    y = sample_truth(rng, 1500, mixed)
    z = _identity_latents(y, rng)
    r = probe_matrices(y, z, variables=mixed, assignment=identity_assignment(mixed, 2), probe="kernel")
    assert r["r2_diag"] > 0.98
    assert abs(r["r2_sep"]) < 0.05
    assert r["spearman_diag"] > 0.98
    assert r["assignment_matched"] is False


@pytest.mark.parametrize("probe", [CITRISProbe(epochs=30), MLPProbe(epochs=60)], ids=["mlp", "mlp-groups"])
def test_identity_encoder_mlp_probe(rng, mixed, probe):
    y = sample_truth(rng, 800, mixed)
    z = _identity_latents(y, rng)  # the fixed defaults are 100 epochs; shortened for test time
    r = probe_matrices(y, z, variables=mixed, assignment=identity_assignment(mixed, 2), probe=probe)
    assert r["r2_diag"] > 0.95
    assert abs(r["r2_sep"]) < 0.06


def test_matched_assignment_when_none_given(rng, mixed):
    y = sample_truth(rng, 1000, mixed)
    z = _identity_latents(y, rng)[:, ::-1]  # order of latents should not matter
    r = probe_matrices(y, z, variables=mixed, probe="kernel")
    assert r["assignment_matched"] is True
    assert r["r2_diag"] > 0.98


def test_rotation_entangles(rng):
    v = [Variable("a", low=-1, high=1), Variable("b", low=-1, high=1)]
    y = rng.uniform(-1, 1, size=(1000, 2))
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    z = y @ np.array([[c, -s], [s, c]])
    a = identity_assignment(v)
    ident = probe_matrices(y, y, variables=v, assignment=a, probe="linear")
    rot = probe_matrices(y, z, variables=v, assignment=a, probe="linear")
    assert ident["r2_diag"] > 0.99 and abs(ident["r2_sep"]) < 0.02
    # one rotated latent explains half the variance of each factor
    assert rot["r2_diag"] == pytest.approx(0.5, abs=0.05)
    assert rot["r2_sep"] == pytest.approx(0.5, abs=0.05)


def test_pure_noise_scores_zero(rng, mixed):
    y = sample_truth(rng, 1000, mixed)
    z = rng.normal(size=(1000, 5))
    r = probe_matrices(y, z, variables=mixed, assignment=identity_assignment(mixed), probe="kernel")
    assert abs(r["r2_diag"]) < 0.05
    assert r["spearman_diag"] < 0.1


def test_seed_is_deterministic(rng, mixed):
    y = sample_truth(rng, 300, mixed)
    z = _identity_latents(y, rng)
    a = identity_assignment(mixed, 2)
    probe = MLPProbe(epochs=3)
    r1 = probe_matrices(y, z, variables=mixed, assignment=a, probe=probe, seed=3)
    r2 = probe_matrices(y, z, variables=mixed, assignment=a, probe=probe, seed=3)
    np.testing.assert_array_equal(r1["r2"], r2["r2"])


def test_faithful_probe_is_citris():
    assert isinstance(PROBES["mlp"], CITRISProbe) and isinstance(PROBES["mlp-groups"], MLPProbe)
    p = PROBES["mlp"]
    assert (p.hidden, p.epochs, p.batch_size, p.lr, p.continuous_scale) == (128, 100, 512, 4e-3, 2.0)
    assert (p.split_seed, p.standardise_all) == (42, True)


def test_citris_split_is_torch_random_split_seed_42(rng, mixed):
    import torch

    n = 301
    y = sample_truth(rng, n, mixed)
    z = _identity_latents(y, rng)
    out = fit_probe_predictions(y, z, variables=mixed, assignment=identity_assignment(mixed, 2), probe=CITRISProbe(epochs=1), seed=7)
    _, test = torch.utils.data.random_split(range(n), [n // 2, n - n // 2], generator=torch.Generator().manual_seed(42))
    np.testing.assert_array_equal(out.score_index, np.sort(np.asarray(test.indices)))


def test_citris_probe_outputs(rng, mixed):
    """One network for every group (inputs: masked latents + mask), TanhScaled(2) continuous
    heads, angle vectors pulled to norm 2, standardised over all samples."""
    from crlbench.metrics import kinds

    y = sample_truth(rng, 600, mixed)
    z = _identity_latents(y, rng) * 50.0 + 7.0  # scale and offset do not matter
    a = identity_assignment(mixed, 2)
    groups = np.argmax(a, axis=1)
    masks = groups[None, :] == np.arange(len(mixed) + 1)[:, None]
    x = (z - z.mean(0)) / z.std(0, ddof=1)
    t = kinds.encode(y, mixed)
    cols = kinds.encoded_columns(mixed)
    dims = kinds.dim_variables(mixed)
    ce = [c for c, v in zip(cols, dims) if v.kind == "categorical"]
    ang = [c for c, v in zip(cols, dims) if v.kind == "angle"]
    cont = [c.start for c, v in zip(cols, dims) if v.kind == "continuous"]
    enc = CITRISProbe(epochs=40).fit_predict(x[:300], t[:300], x[300:], masks, ce_blocks=ce, angle_blocks=ang, seed=0)
    assert enc.shape == (len(masks), 300, t.shape[1])
    assert np.abs(enc[..., cont]).max() <= 1.0  # tanh-bounded (the range maps to [-2, 2])
    for s in ang:
        norm = np.linalg.norm(enc[..., s], axis=-1)
        assert abs(np.median(norm) - 2.0) < 0.3
    r_fixed = probe_matrices(y, z, variables=mixed, assignment=a, probe=CITRISProbe(epochs=3), seed=0)
    r_moved = probe_matrices(y, z / 50.0, variables=mixed, assignment=a, probe=CITRISProbe(epochs=3), seed=0)
    np.testing.assert_allclose(r_fixed["r2"], r_moved["r2"], atol=1e-5)
