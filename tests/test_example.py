"""The README's worked example, command for command: a user's method in one file is scored on
a track, submitted and shown on the leaderboard beside the official smoke results.

The commands are read from the README (the first ``bash`` block under "Worked example"),
so the tests fail when they stop working as written. The full run trains three seeds
(about half a minute on 2 idle cores) and is marked slow; the default run checks that every
command parses and that the method follows the contract on real data.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crlbench.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
METHOD = "examples/pair_ae.py:PairAE"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Worked example", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_commands_parse_and_the_method_follows_the_contract(tmp_path):
    from crlbench.baselines.contract import Budget, check_method
    from crlbench.baselines.methods import method_class
    from crlbench.datasets import load
    from crlbench.datasets.build import generate
    from tests.helpers import tiny_spec

    commands = readme_commands()
    assert [shlex.split(c)[:2] for c in commands] == [
        ["crlbench", "evaluate"],
        ["crlbench", "submit"],
        ["crlbench", "submit"],
        ["crlbench", "leaderboard"],
    ]
    parsed = [build_parser().parse_args(shlex.split(c)[1:]) for c in commands]
    assert parsed[0].seed == [0, 1, 2] and parsed[0].method == parsed[1].method == METHOD
    assert parsed[1].external_data is False and parsed[2].check == Path("my-submission") == parsed[3].submitted[0]
    cwd = Path.cwd()
    os.chdir(ROOT)  # the README's commands run from the repository root
    try:
        cls = method_class(METHOD)
    finally:
        os.chdir(cwd)
    data = load(generate(tiny_spec("toy-son-pairs-v1"), tmp_path, progress=False))
    model = cls(check_every=5)
    model.fit(data["train"], data["val"], Budget(steps=20), 0)
    obs = np.asarray(data["test"].observations)
    assert check_method(model, obs[:, 0], obs[:, 1]) == ["infer_targets"]
    assert sum(p.numel() for p in model.module.parameters()) > 0  # what crlbench counts


@pytest.mark.slow
def test_readme_example_scores_submits_and_publishes_a_user_method(tmp_path):
    commands = readme_commands()
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "smoke").symlink_to(ROOT / "results" / "smoke")
    # one BLAS/torch thread: the test suite may run beside other work on 2 cores
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    env.pop("CRLBENCH_DATA", None)
    for command in commands:
        run = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"

    records = sorted((tmp_path / "my-results").rglob("*.json"))
    assert [p.name for p in records] == [f"examples_pair_ae.py_PairAE-seed{s}.json" for s in range(3)]
    rec = json.loads(records[0].read_text())
    assert rec["track"] == "toy-son-pairs-v1" and rec["method_version"] == "0.1" and rec["n_parameters"] > 0
    assert rec["precision"] == "fp32" and rec["software"]["torch"]
    assert 0.0 <= rec["metrics"]["intervention_accuracy"] <= 1.0

    meta = json.loads((tmp_path / "my-submission" / "submission.json").read_text())
    assert (meta["name"], meta["method"], meta["external_data"]) == ("pair-ae", METHOD, False)
    assert meta["entries"] == [{"track": "toy-son-pairs-v1", "tier": "smoke", "seeds": [0, 1, 2]}]
    assert meta["n_parameters"] == rec["n_parameters"]

    page = (tmp_path / "site" / "index.html").read_text()
    rows = re.findall(r'<tr class="([^"]*)">(.*?)</tr>', page)
    submitted = [row for classes, row in rows if "submitted" in classes.split()]
    assert len(submitted) == 1
    row = submitted[0]
    assert "pair-ae" in row and 'href="https://github.com/me/pair-ae"' in row
    for official in ("ilcm", "citris-vae", "beta-vae"):  # the official smoke rows are there too
        assert f'<td class="text">{official} ' in page
    assert (tmp_path / "data" / "smoke" / "toy-son-pairs-v1.croissant.json").exists()  # generated data has its card
