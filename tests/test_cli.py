"""The command line: listing, info, generation, verification and its error paths (exit 2)."""

from __future__ import annotations

import h5py
import pytest

from crlbench.cli import main
from crlbench.registry import DATASETS, GROUPS


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ls_lists_every_id(capsys):
    code, out, _ = run(capsys, "ls")
    assert code == 0
    for did in [*DATASETS, *GROUPS]:
        assert did in out


def test_info_prints_variables_graph_splits_and_hash(capsys):
    code, out, _ = run(capsys, "info", "toy-son-pairs-v1", "--n-vars", "3", "--seed", "2")
    assert code == 0
    for text in ("z0", "z2", "instantaneous graph", "smoke splits", "paper splits: train=100000", "spec hash"):
        assert text in out


def test_tracks_lists_every_protocol_and_the_ids(capsys):
    from crlbench.leaderboard.protocols import PROTOCOLS, tracks

    code, out, _ = run(capsys, "tracks")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(PROTOCOLS)
    assert any(line.startswith("causal3dident-tris-v2") and "smoke" in line and "32px" in line and "latents 16" in line for line in lines)
    code, out, _ = run(capsys, "tracks", "--ids")
    assert code == 0 and out.split() == tracks()


def test_unknown_id_suggests_and_exits_2(capsys):
    code, _, err = run(capsys, "info", "toy-son-pair-v1")
    assert code == 2
    assert "Did you mean 'toy-son-pairs-v1'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-vars", "1"], "n_vars must be an integer >= 2"),
        (["--split", "train=-5"], "train=-5 must be a non-negative integer"),
        (["--size", "huge"], "unknown size 'huge'"),
        (["--workers", "0"], "workers must be >= 1"),
        (["--split", "bogus=3"], "split 'bogus' does not exist"),
    ],
)
def test_bad_generate_input_exits_2(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, "generate", "toy-son-pairs-v1", "--out", str(tmp_path), "--no-progress", *argv)
    assert code == 2 and message in err


def test_generate_verify_and_refuse_other_spec(capsys, tmp_path):
    args = ["generate", "toy-son-v1", "--out", str(tmp_path), "--no-progress", "--split", "train=50"]
    code, out, _ = run(capsys, *args, "--split", "val=10", "--split", "test=10")
    assert code == 0 and out.count(".h5") == 3
    files = sorted(tmp_path.glob("*.h5"))
    code, out, _ = run(capsys, "verify", "--regenerate", *map(str, files))
    assert code == 0 and out.count(": OK") == 3
    code, _, err = run(capsys, "generate", "toy-son-pairs-v1", "--out", str(tmp_path), "--seed", "1", "--no-progress")
    assert code == 2 and "--overwrite" in err
    with h5py.File(files[0], "r+") as f:
        f["val/latents"][0] = 0.0
    code, out, _ = run(capsys, "verify", str(files[0]))
    assert code == 1 and "val/latents: differs" in out
