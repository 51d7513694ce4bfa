"""The paper tier's code path, run at dry-run scale: every method of the toy tracks and of
the CausalCircuit pairs track (paper resolution, conv width, latents and shared stage) in the
default run, the CausalCircuit TRIS track (batch 512 windows at 64 px) marked slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crlbench.errors import CrlbenchError
from crlbench.executors import LocalExecutor
from crlbench.leaderboard.dry_run import DRY_RUN_STEPS, DRY_RUN_TIER, dry_run, dry_run_sweep
from crlbench.leaderboard.protocols import PROTOCOLS, protocol
from crlbench.leaderboard.records import load_record, load_records
from crlbench.leaderboard.table import aggregate

#: Fields a dry run keeps from the paper protocol (all but tier, budget and the splits).
KEPT = (
    "track",
    "size",
    "seeds",
    "batch_size",
    "dataset_params",
    "dataset_seed",
    "latent_dim",
    "probe",
    "dci_regressor",
    "device",
    "resolution",
    "baseline_params",
    "graphs",
    "dataset",
)


@pytest.mark.parametrize("track", sorted(t for t, tier in PROTOCOLS if tier == "paper"))
def test_dry_run_keeps_every_paper_setting_but_size_and_budget(track):
    paper, dry = protocol(track, "paper"), dry_run(track)
    assert {k: getattr(dry, k) for k in KEPT} == {k: getattr(paper, k) for k in KEPT}
    assert (dry.tier, dry.budget, dry.paper_hash) == (DRY_RUN_TIER, f"{DRY_RUN_STEPS}steps", paper.hash)
    assert dry.hash != paper.hash and dry.dataset_hash != paper.dataset_hash
    spec, paper_spec = dry.dataset_spec(), paper.dataset_spec()
    assert {**spec.__dict__, "splits": None} == {**paper_spec.__dict__, "splits": None}
    assert set(spec.splits) == set(paper_spec.splits)
    assert all(spec.splits[s] < paper_spec.splits[s] for s in spec.splits)


def _check_records(report, track, methods, graphs):
    assert not report.failed, report.failed
    records = [load_record(p) for p in report.records]
    assert sorted((r.method, r.graph) for r in records) == sorted((m, g) for m in methods for g in graphs)
    for r in records:
        assert r.tier == DRY_RUN_TIER and r.track == track and r.metrics
        assert r.protocol_hash == dry_run(track, seeds=[0], graphs=None if graphs == [None] else graphs).hash
    return records


@pytest.mark.parametrize("track", ["toy-son-pairs-v1", "toy-son-tris-v1", "toy-son-pairs-n10-v1"])
def test_paper_dry_run_runs_every_method(track, tmp_path):
    paper = protocol(track, "paper")
    graphs = list(paper.graphs[:1]) or [None]
    report = dry_run_sweep(track, results=tmp_path / "dry", root=tmp_path / "data", seeds=[0], graphs=None if graphs == [None] else graphs)
    records = _check_records(report, track, paper.methods, graphs)
    # Without a GPU the record names the fallback from the paper tier's cuda.
    import torch

    if not torch.cuda.is_available():
        assert all(any("ran on cpu" in d for d in r.deviations) for r in records)
    # A leaderboard refuses dry-run records as rows.
    with pytest.raises(CrlbenchError, match="dry run"):
        aggregate(load_records(tmp_path / "dry"))


def test_dry_run_refuses_a_folder_of_real_records_and_other_tiers(tmp_path):
    (tmp_path / "results" / "toy-son-pairs-v1" / "paper").mkdir(parents=True)
    with pytest.raises(CrlbenchError, match="folder of its own"):
        dry_run_sweep("toy-son-pairs-v1", results=tmp_path / "results", root=tmp_path / "data")
    with pytest.raises(CrlbenchError, match="--tier paper"):
        dry_run(protocol("toy-son-pairs-v1", "smoke"))
    with pytest.raises(CrlbenchError, match="subset"):
        dry_run("toy-son-pairs-v1", seeds=[7])


class StagesAtStart(LocalExecutor):
    """A local executor that notes the shared stages cached under ``root`` when its workers start."""

    def __init__(self, root: Path) -> None:
        super().__init__(1)
        self.root = root
        self.stages: list[str] = []

    def map_unordered(self, *args, **kwargs):
        self.stages = sorted(p.name for p in self.root.rglob("*.stage.pt"))
        return super().map_unordered(*args, **kwargs)


@pytest.mark.parametrize("track", ["causal-circuit-pairs-v1", pytest.param("causal-circuit-tris-v1", marks=pytest.mark.slow)])
def test_paper_dry_run_image_track(track, tmp_path):
    paper = protocol(track, "paper")
    executor = StagesAtStart(tmp_path / "data")
    report = dry_run_sweep(track, results=tmp_path / "dry", root=tmp_path / "data", seeds=[0], executor=executor)
    records = _check_records(report, track, paper.methods, [None])
    # The shared stage (reduce-dim; CITRIS-NF's autoencoder) is trained once, before any
    # worker starts, and every run that declares it uses that one.
    assert len(executor.stages) == 1
    assert sorted(p.name for p in (tmp_path / "data").rglob("*.stage.pt")) == executor.stages
    used = {key for r in records for key in r.stages.values()}
    assert len(used) == 1 and f"-{next(iter(used))[:12]}.stage.pt" in executor.stages[0]
    config = json.loads(next((tmp_path / "dry-runs").rglob("config.json")).read_text())
    assert config["dataset"]["id"] == paper.dataset_id
    assert all(r.precision for r in records)


def test_cli_dry_run_refuses_other_tiers_and_official(tmp_path, capsys):
    from crlbench.cli import main

    base = ["sweep", "--protocol", "toy-son-pairs-v1", "--dry-run", "--results", str(tmp_path / "dry"), "--data", str(tmp_path / "d")]
    assert main([*base, "--tier", "smoke"]) == 2
    assert "--tier paper" in capsys.readouterr().err
    assert main([*base, "--tier", "paper", "--official"]) == 2
    assert "never official" in capsys.readouterr().err
    assert not (tmp_path / "dry").exists()
