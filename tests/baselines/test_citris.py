"""CITRIS-VAE / CITRIS-NF: the transition prior's marginalisation, input checks, the method
contract, and a short training run on synthetic 64x64 image sequences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from crlbench.baselines.citris_nf import CitrisNF
from crlbench.baselines.citris_vae import CitrisVAE
from crlbench.baselines.contract import check_method
from crlbench.baselines.sequence_method import FrameWindows, check_sequence, window_arrays
from crlbench.baselines.transition_prior import TargetClassifier, TransitionPrior, gaussian_kl, marginalise
from crlbench.datasets import Pairs, Sequence
from crlbench.errors import CrlbenchError

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _known_prior() -> TransitionPrior:
    """M=2 latents, K=1 variable; observational N(0, 1) whatever z^t, interventional N(5, 1)."""
    prior = TransitionPrior(2, 1, hidden=(4,))
    with torch.no_grad():
        for w in prior.mechanism.weights:
            w.zero_()
        for b in prior.mechanism.biases:
            b.zero_()
        prior.int_mean.fill_(5.0)
        prior.int_log_std.zero_()
    return prior.eval()


def test_prior_table_known_answer():
    prior = _known_prior()
    z_next = torch.tensor([[0.0, 5.0], [0.0, 5.0]])
    targets = torch.tensor([[1.0], [0.0]])  # sample 0 intervened on the variable, sample 1 not
    table = prior.log_prob_table(z_next, torch.randn(2, 2), targets)  # (B, M, K+1)
    a, b = -HALF_LOG_2PI, -12.5 - HALF_LOG_2PI  # log N(0; 0, 1), log N(5; 0, 1) = log N(0; 5, 1)
    expected = torch.tensor([[[a, b], [b, a]], [[a, a], [b, b]]])
    torch.testing.assert_close(table, expected)


def test_marginalisation_known_answer():
    prior = _known_prior()
    z_next, targets = torch.tensor([[0.0, 5.0]]), torch.tensor([[1.0]])
    w = torch.tensor([[0.25, 0.75], [0.6, 0.4]])
    a, b = -HALF_LOG_2PI, -12.5 - HALF_LOG_2PI
    # latent 0 (value 0): none -> a, variable -> b; latent 1 (value 5): none -> b, variable -> a
    expected = (0.25 * a + 0.75 * b) + (0.6 * b + 0.4 * a)
    got = prior.log_prob(z_next, torch.zeros(1, 2), targets, weights=w)
    torch.testing.assert_close(got, torch.tensor([expected]))


def test_marginalisation_equals_enumeration_over_assignments():
    torch.manual_seed(0)
    m, k, b = 3, 2, 4
    table = torch.randn(b, m, k + 1)
    w = torch.softmax(torch.randn(m, k + 1), -1)
    brute = torch.zeros(b)
    for psi in itertools.product(range(k + 1), repeat=m):  # every assignment, with its probability
        p = torch.prod(torch.stack([w[i, psi[i]] for i in range(m)]))
        brute += p * sum(table[:, i, psi[i]] for i in range(m))
    torch.testing.assert_close(marginalise(table, w), brute)


def test_kl_table_matches_closed_form_and_hard_assignment():
    torch.manual_seed(0)
    prior = TransitionPrior(3, 2).eval()
    mean_q, log_std_q, z_prev = torch.randn(5, 3), 0.1 * torch.randn(5, 3), torch.randn(5, 3)
    targets = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]]).float()
    table = prior.kl_table(mean_q, log_std_q, z_prev, targets)
    mean, log_std = prior.observational(z_prev)
    torch.testing.assert_close(table[..., 0], gaussian_kl(mean_q, log_std_q, mean, log_std))
    im, il = prior.interventional()
    torch.testing.assert_close(table[2, :, 1], gaussian_kl(mean_q[2], log_std_q[2], im, il))
    assert (table >= -1e-6).all()
    hard = torch.nn.functional.one_hot(torch.tensor([2, 0, 1]), 3).float()
    torch.testing.assert_close(marginalise(table, hard), table[:, 0, 2] + table[:, 1, 0] + table[:, 2, 1])


def test_assignment_is_sampled_in_training_and_deterministic_in_eval():
    prior = TransitionPrior(4, 3)
    w = prior.train().assignment_weights()
    assert w.shape == (4, 4) and torch.allclose(w.sum(-1), torch.ones(4))
    torch.testing.assert_close(prior.eval().assignment_weights(), torch.full((4, 4), 0.25))


def test_usage_penalty_known_answer():
    prior = TransitionPrior(3, 2, logit_scale=1.0)
    with torch.no_grad():  # latents 0, 1 -> variable 1; latent 2 -> none: variable 2 is empty
        prior.raw_logits.copy_(torch.tensor([[0.0, 20.0, 0.0], [0.0, 20.0, 0.0], [20.0, 0.0, 0.0]]))
    p = prior.assignment_probs()
    torch.testing.assert_close(prior.usage_penalty(), -torch.log(p[:, 2].sum()))
    assert prior.usage_penalty() > 15
    prior.usage_penalty().backward()  # the pull does not vanish although the softmax saturated
    assert torch.allclose(prior.raw_logits.grad[:, 2], torch.full((3,), -1 / 3), atol=1e-6)
    with torch.no_grad():
        prior.raw_logits[2] = torch.tensor([0.0, 0.0, 20.0])
    assert float(prior.usage_penalty().detach()) == 0.0


def test_target_classifier_sees_only_its_group():
    torch.manual_seed(0)
    clf = TargetClassifier(3, 2)
    w = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    z0, z1 = torch.randn(4, 3), torch.randn(4, 3)
    logits = clf.logits(z0, z1, w)
    assert logits.shape == (4, 2)
    z1b = z1.clone()
    z1b[:, 1] += 3.0  # latent 1 belongs to variable 2 only
    changed = clf.logits(z0, z1b, w)
    torch.testing.assert_close(changed[:, 0], logits[:, 0])
    assert not torch.allclose(changed[:, 1], logits[:, 1])
    assert clf.loss(z0, z1, torch.ones(4, 2), w).shape == (4,)


# --- inputs -------------------------------------------------------------------------------


def _vector_sequence(t: int = 300, d: int = 3, k: int = 3, seed: int = 0) -> Sequence:
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.normal(size=(t, d)), 0) * 0.1
    return Sequence(z, (rng.random((t, k)) < 0.25).astype(np.uint8), np.zeros((t, 1)), z @ rng.normal(size=(d, d)))


def _image_sequence(t: int = 40, k: int = 2, seed: int = 0) -> Sequence:
    rng = np.random.default_rng(seed)
    lat = rng.random((t, k))
    img = np.zeros((t, 64, 64, 3), np.uint8)
    for i, (a, b) in enumerate(lat):  # a square whose position and colour are the two variables
        x0 = int(a * 48)
        img[i, 20:36, x0 : x0 + 16] = (int(255 * b), 80, 255 - int(255 * b))
    return Sequence(lat, (rng.random((t, k)) < 0.3).astype(np.uint8), np.zeros((t, 1)), img)


def test_pairs_dataset_is_refused_with_a_clear_error():
    pairs = Pairs(np.zeros((5, 2, 2)), np.zeros((5, 2), np.uint8), np.zeros((5, 2)), np.zeros((5, 2, 2)))
    for cls in (CitrisVAE, CitrisNF):
        with pytest.raises(CrlbenchError, match="needs a sequences dataset.*pairs"):
            cls(device="cpu").fit(pairs, None, 1, 0)


def test_sequence_checks():
    seq = _vector_sequence(10)
    check_sequence(seq, "m", "train")
    bad = Sequence(seq.latents, seq.targets[:5], seq.noise, seq.observations)
    with pytest.raises(CrlbenchError, match=r"targets \(T, K\)"):
        check_sequence(bad, "m", "train")


def test_windows_are_consecutive_frames_with_next_targets():
    seq = _image_sequence(7)
    arrays = window_arrays(seq)
    assert arrays["pair"].shape == (6, 2, 64, 64, 3)
    idx = np.array([0, 3, 5])
    np.testing.assert_array_equal(arrays["pair"][idx][:, 0], seq.observations[idx])
    np.testing.assert_array_equal(arrays["pair"][idx][:, 1], seq.observations[idx + 1])
    np.testing.assert_array_equal(arrays["targets"], seq.targets[1:])
    fw = FrameWindows(seq.observations)
    np.testing.assert_array_equal(fw[2], np.stack([seq.observations[2], seq.observations[3]]))
    vec = window_arrays(_vector_sequence(9))
    assert vec["pair"].shape == (8, 2, 3)


def test_unknown_parameter_is_named():
    with pytest.raises(CrlbenchError, match="unknown parameters"):
        CitrisVAE(bogus=1)


# --- contract and training ----------------------------------------------------------------


@pytest.mark.parametrize("cls,params", [(CitrisVAE, {}), (CitrisVAE, {"flow_layers": 1}), (CitrisNF, {"flow_layers": 2})])
def test_contract_on_vectors(cls, params):
    torch.manual_seed(0)
    seq = _vector_sequence()
    m = cls(device="cpu", loop={"batch_size": 64, "progress": False}, **params)
    result = m.fit(seq, _vector_sequence(seed=1), 20, 0)
    assert result.steps == 20
    x = np.asarray(seq.observations[:50])
    caps = check_method(m, x)
    assert set(caps) >= {"assignment", "decode"}
    z = m.encode(x)
    a = m.assignment()
    assert a.shape == (z.shape[1], 4) and np.allclose(a.sum(1), 1)
    assert np.isfinite(m.decode(z)).all()


@pytest.mark.parametrize("cls", [CitrisVAE, CitrisNF])
def test_image_smoke(cls, tmp_path):
    torch.manual_seed(0)
    seq = _image_sequence()
    m = cls(device="cpu", loop={"batch_size": 8, "progress": False}, n_latents=6, channels=16)
    result = m.fit(seq, _image_sequence(12, seed=1), 3, 0, workdir=tmp_path)
    assert result.steps == 3 and (tmp_path / "log.json").exists()
    x = np.asarray(seq.observations[:5])
    z = m.encode(x)
    assert z.shape == (5, 6) and np.isfinite(z).all()
    xr = m.decode(z)
    assert xr.shape == x.shape and xr.dtype == np.uint8
    check_method(m, x)
