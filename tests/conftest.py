"""Shared fixtures."""

from __future__ import annotations

import pytest

from crlbench.registry import DATASETS


@pytest.fixture(params=sorted(DATASETS))
def dataset_id(request) -> str:
    """Every registered dataset id (conformance tests run over all of them)."""
    return request.param


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance of 2 CPUs, started once per test module and shut down after it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
