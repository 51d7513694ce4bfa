"""Shared fixtures."""

from __future__ import annotations

import pytest

from crlbench.registry import DATASETS


@pytest.fixture(params=sorted(DATASETS))
def dataset_id(request) -> str:
    """Every registered dataset id (conformance tests run over all of them)."""
    return request.param
