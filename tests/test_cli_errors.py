"""Every bad command line exits 2 with one line naming the argument and the fix, no traceback.

:data:`CASES` is a table over every subcommand and every kind of mistake a user makes: paths
(missing, a file where a folder is needed, a folder where a file is needed, unwritable),
numbers (negative, zero, NaN, not a number), ids (unknown, a scene id where a dataset id is
needed), files of another format (JSON, truncated or foreign HDF5, empty files), empty
values and conflicting options. Each row: the kind, the command line (``{name}`` fields
are paths of the :func:`world` fixture) and a text the message must contain, the argument
or the value it names.
"""

from __future__ import annotations

import errno
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from crlbench.cli import COMMANDS, main
from crlbench.datasets import load
from crlbench.datasets.build import generate
from crlbench.leaderboard.protocols import protocol
from crlbench.leaderboard.records import ResultRecord, record_path
from crlbench.leaderboard.runner import dataset_path, ensure_dataset
from crlbench.registry import DATASETS
from tests.helpers import tiny_spec
from tests.leaderboard.synthetic import record_dict

TRACK = "toy-son-pairs-v1"
C3D = next(did for did in DATASETS if did.startswith("causal3dident-tris-"))  # the current version
PCA = "tests.leaderboard.user_method:PCA"

CASES: list[tuple[str, list[str], str]] = [
    # ls, tracks
    ("option", ["ls", "--bogus"], "--bogus"),
    ("option", ["tracks", "--bogus"], "--bogus"),
    # info
    ("id", ["info", "toy-son-pair-v1"], "toy-son-pair-v1"),
    ("empty", ["info", ""], "''"),
    ("number", ["info", TRACK, "--seed", "-1"], "--seed"),
    ("number", ["info", TRACK, "--n-vars", "1"], "n_vars"),
    ("number", ["info", TRACK, "--n-vars", "x"], "--n-vars"),
    ("number", ["info", "causal-circuit-tris-v1", "--resolution", "0"], "--resolution"),
    ("format", ["info", TRACK, "--param", "novalue"], "--param"),
    # generate
    ("path", ["generate", TRACK, "--out", "/proc/crl", "--no-progress"], "--out /proc/crl"),
    ("path", ["generate", TRACK, "--out", "{afile}", "--no-progress"], "--out {afile}"),
    ("empty", ["generate", TRACK, "--out", "", "--no-progress"], "--out"),
    ("number", ["generate", TRACK, "--out", "{tmp}/g", "--split", "train=0", "--no-progress"], "--split train="),
    ("number", ["generate", TRACK, "--out", "{tmp}/g", "--split", "train=-5", "--no-progress"], "train=-5"),
    ("number", ["generate", TRACK, "--out", "{tmp}/g", "--split", "train=abc", "--no-progress"], "train='abc'"),
    ("id", ["generate", TRACK, "--out", "{tmp}/g", "--split", "bogus=3", "--no-progress"], "'bogus'"),
    ("option", ["generate", TRACK, "--out", "{tmp}/g", "--size", "huge", "--no-progress"], "'huge'"),
    ("number", ["generate", TRACK, "--out", "{tmp}/g", "--workers", "0", "--no-progress"], "workers"),
    ("number", ["generate", TRACK, "--out", "{tmp}/g", "--seed", "-1", "--no-progress"], "--seed"),
    ("id", ["generate", "toy-son-v2", "--out", "{tmp}/g", "--no-progress"], "toy-son-v2"),
    ("option", ["generate", TRACK, "--out", "{tmp}/g", "--executor", "nope", "--no-progress"], "'nope'"),
    ("format", ["generate", TRACK, "--out", "{tmp}/g", "--mesh", "teapot=x.obj", "--no-progress"], "--mesh"),
    ("path", ["generate", C3D, "--out", "{tmp}/g", "--mesh", "pot=/nonexistent.obj", "--no-progress"], "/nonexistent.obj"),
    ("conflict", ["generate", TRACK, "--out", "{good_dir}", "--seed", "3", "--no-progress"], "--overwrite"),
    # verify
    ("path", ["verify", "{tmp}/missing.h5"], "{tmp}/missing.h5"),
    ("path", ["verify", "{folder}"], "{folder} is a folder"),
    ("format", ["verify", "{json}"], "{json} is not an HDF5 file"),
    ("empty", ["verify", "{empty_h5}"], "{empty_h5}"),
    ("format", ["verify", "{truncated}"], "{truncated}"),
    ("format", ["verify", "{foreign}"], "{foreign}: not a crlbench dataset"),
    ("empty", ["verify", ""], "FILE"),
    ("number", ["verify", "{good}", "--frames", "-1"], "--frames"),
    ("number", ["verify", "{good}", "--frames", "0"], "--frames"),
    ("number", ["verify", "{good}", "--tolerance", "nan"], "--tolerance"),
    ("number", ["verify", "{good}", "--tolerance", "-1"], "--tolerance"),
    ("number", ["verify", "{good}", "--tolerance", "inf"], "--tolerance"),
    # train
    ("id", ["train", "--method", PCA, "--dataset", "toy-son-v1", "--out", "{tmp}/r"], "'toy-son-v1' is a scene id"),
    ("id", ["train", "--method", PCA, "--dataset", "toy-son-pair-v1", "--out", "{tmp}/r"], "toy-son-pair-v1"),
    ("path", ["train", "--method", PCA, "--dataset", "{tmp}/missing.h5", "--out", "{tmp}/r"], "{tmp}/missing.h5"),
    ("format", ["train", "--method", PCA, "--dataset", "{json}", "--out", "{tmp}/r"], "{json}"),
    ("path", ["train", "--method", PCA, "--dataset", "{folder}", "--out", "{tmp}/r"], "{folder} is a folder"),
    ("number", ["train", "--method", PCA, "--dataset", "{good}", "--out", "{tmp}/r", "--threads", "0"], "--threads"),
    ("number", ["train", "--method", PCA, "--dataset", "{good}", "--out", "{tmp}/r", "--threads", "-1"], "--threads"),
    ("number", ["train", "--method", PCA, "--dataset", "{good}", "--out", "{tmp}/r", "--seed", "-1"], "--seed"),
    ("number", ["train", "--method", "ilcm", "--dataset", "{good}", "--out", "{tmp}/r", "--budget", "abc"], "budget 'abc'"),
    ("number", ["train", "--method", "ilcm", "--dataset", "{good}", "--out", "{tmp}/r", "--budget", "0steps"], "budget"),
    ("id", ["train", "--method", "foo", "--dataset", "{good}", "--out", "{tmp}/r"], "'foo'"),
    ("empty", ["train", "--method", "", "--dataset", "{good}", "--out", "{tmp}/r"], "method ''"),
    ("id", ["train", "--method", "nomodule:X", "--dataset", "{good}", "--out", "{tmp}/r"], "nomodule"),
    ("option", ["train", "--method", "ilcm", "--dataset", "{good}", "--out", "{tmp}/r", "--device", "tpu"], "device 'tpu'"),
    ("id", ["train", "--method", "ilcm", "--dataset", "{good}", "--out", "{tmp}/r", "--param", "foo=1"], "['foo']"),
    ("path", ["train", "--method", PCA, "--dataset", "{good}", "--out", "{afile}"], "--out {afile}"),
    (
        "empty",
        ["train", "--method", PCA, "--dataset", TRACK, "--root", "{tmp}/nodata", "--out", "{tmp}/r", "--no-generate"],
        "not generated yet",
    ),
    # evaluate
    ("id", ["evaluate", "--track", "nope", "--method", PCA], "'nope'"),
    ("option", ["evaluate", "--track", TRACK, "--tier", "huge", "--method", PCA], "'huge'"),
    ("path", ["evaluate", "--track", TRACK, "--predictions", "{tmp}/missing.npz", "--data", "{data}"], "{tmp}/missing.npz"),
    ("format", ["evaluate", "--track", TRACK, "--predictions", "{json}", "--data", "{data}"], "{json}"),
    ("format", ["evaluate", "--track", TRACK, "--predictions", "{good}", "--data", "{data}"], "{good}"),
    ("format", ["evaluate", "--track", TRACK, "--predictions", "{preds_label99}", "--data", "{data}"], "test_inferred_targets"),
    ("format", ["evaluate", "--track", TRACK, "--predictions", "{preds_shape}", "--data", "{data}"], "probe_latents"),
    ("conflict", ["evaluate", "--track", TRACK, "--predictions", "{preds_ok}", "--data", "{data}", "--record"], "--name"),
    ("conflict", ["evaluate", "--track", TRACK, "--predictions", "{preds_ok}", "--data", "{data}", "--name", "x"], "--record"),
    ("conflict", ["evaluate", "--track", TRACK, "--method", PCA, "--data", "{data}", "--record", "--name", "x"], "--predictions"),
    ("number", ["evaluate", "--track", TRACK, "--method", PCA, "--seed", "-1"], "--seed"),
    ("number", ["evaluate", "--track", TRACK, "--method", PCA, "--seed", "7", "--data", "{data}", "--results", "{tmp}/res"], "seed 7"),
    ("path", ["evaluate", "--track", TRACK, "--method", PCA, "--data", "{data}", "--results", "{afile}"], "--results {afile}"),
    ("conflict", ["evaluate", "--track", TRACK, "--method", PCA, "--data", "{stale_root}", "--results", "{tmp}/res"], "--data"),
    ("conflict", ["evaluate", "--track", TRACK, "--method", PCA, "--data", "{truncated_root}", "--results", "{tmp}/res"], "--data"),
    ("conflict", ["evaluate", "--track", TRACK, "--method", PCA, "--data", "{foreign_root}", "--results", "{tmp}/res"], "--data"),
    (
        "empty",
        ["evaluate", "--track", TRACK, "--method", PCA, "--data", "{tmp}/nodata", "--results", "{tmp}/res", "--no-generate"],
        "--no-generate",
    ),
    # sweep
    ("id", ["sweep", "--protocol", TRACK, "--methods", "ilcm,foo", "--data", "{data}", "--results", "{tmp}/sw"], "--methods"),
    ("empty", ["sweep", "--protocol", TRACK, "--methods", "", "--data", "{data}", "--results", "{tmp}/sw"], "--methods"),
    ("empty", ["sweep", "--protocol", TRACK, "--methods", "ilcm,,beta-vae", "--data", "{data}", "--results", "{tmp}/sw"], "--methods"),
    (
        "conflict",
        ["sweep", "--protocol", TRACK, "--methods", "ilcm,ilcm", "--data", "{data}", "--results", "{tmp}/sw"],
        "ilcm: named twice",
    ),
    ("id", ["sweep", "--protocol", "nope", "--results", "{tmp}/sw"], "'nope'"),
    ("option", ["sweep", "--protocol", TRACK, "--tier", "bogus", "--results", "{tmp}/sw"], "'bogus'"),
    ("number", ["sweep", "--protocol", TRACK, "--methods", PCA, "--workers", "0", "--data", "{data}", "--results", "{tmp}/sw"], "workers"),
    (
        "option",
        ["sweep", "--protocol", TRACK, "--methods", PCA, "--executor", "nope", "--data", "{data}", "--results", "{tmp}/sw"],
        "'nope'",
    ),
    ("path", ["sweep", "--protocol", TRACK, "--methods", PCA, "--data", "{data}", "--results", "{afile}"], "--results {afile}"),
    # leaderboard
    ("path", ["leaderboard", "build", "{results}", "--out", "{afile}"], "--out {afile}"),
    ("path", ["leaderboard", "build", "{results}", "--out", "/proc/site"], "--out /proc/site"),
    ("path", ["leaderboard", "build", "{tmp}/missing", "--out", "{tmp}/site"], "RESULTS_DIR"),
    ("path", ["leaderboard", "build", "{afile}", "--out", "{tmp}/site"], "RESULTS_DIR"),
    ("empty", ["leaderboard", "build", "{folder}", "--out", "{tmp}/site"], "{folder}"),
    ("path", ["leaderboard", "build", "{results}", "--out", "{tmp}/site", "--dataset", f"{TRACK}={{tmp}}/missing.h5"], "--dataset"),
    ("format", ["leaderboard", "build", "{results}", "--out", "{tmp}/site", "--dataset", "novalue"], "--dataset"),
    ("format", ["leaderboard", "build", "{bad_results}", "--out", "{tmp}/site"], "x.json"),
    ("empty", ["leaderboard", "build", "", "--out", "{tmp}/site"], "RESULTS_DIR"),
]
#: kinds whose message is followed by the expected format (the fix is a table, as in OGB)
WITH_FORMAT = ("test_inferred_targets", "probe_latents")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Files of every kind a case names; the data of :data:`TRACK` (smoke) under ``data``."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "afile").write_text("a file")
    (tmp / "x.json").write_text("{}")
    (tmp / "empty.h5").write_bytes(b"")
    (tmp / "folder").mkdir()
    good = generate(tiny_spec(TRACK), tmp / "good", progress=False)
    (tmp / "truncated.h5").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    import h5py

    with h5py.File(tmp / "foreign.h5", "w") as f:
        f["x"] = np.zeros(3)
    results = tmp / "results"
    rec = ResultRecord.from_dict(record_dict())
    rec.save(record_path(rec, results))
    (tmp / "bad_results" / "a").mkdir(parents=True)
    (tmp / "bad_results" / "a" / "x.json").write_text("{bad")

    proto = protocol(TRACK, "smoke")
    data = tmp / "data"
    data_file = ensure_dataset(proto, data)
    for name, content in (("stale_root", b"stale"), ("truncated_root", good.read_bytes()[:4096])):
        p = dataset_path(proto, tmp / name)
        p.parent.mkdir(parents=True)
        p.write_bytes(content)
    p = dataset_path(proto, tmp / "foreign_root")
    p.parent.mkdir(parents=True)
    shutil.copy(generate(replace(proto.dataset_spec(), seed=5), tmp / "other", progress=False), p)

    ds = load(data_file)
    n_probe, n_test, k = len(ds["test_indep"]), len(ds["test"]), len(ds.variables)
    z = np.random.default_rng(0).normal(size=(n_probe, k))
    np.savez(tmp / "preds_ok.npz", probe_latents=z)
    np.savez(tmp / "preds_label99.npz", probe_latents=z, test_inferred_targets=np.full(n_test, 99))
    np.savez(tmp / "preds_shape.npz", probe_latents=z[:-1])
    paths = {p.stem: str(p) for p in tmp.iterdir()}
    return {
        **paths,
        "tmp": str(tmp),
        "json": str(tmp / "x.json"),
        "empty_h5": str(tmp / "empty.h5"),
        "good": str(good),
        "good_dir": str(good.parent),
        "data": str(data),
    }


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("kind, argv, names", CASES, ids=[f"{c[1][0]}-{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_command_line(world, capsys, tmp_path, monkeypatch, kind, argv, names):
    monkeypatch.chdir(tmp_path)  # defaults such as --results results/ land here
    code, _, err = run(capsys, [a.format(**world) for a in argv])
    assert not list(tmp_path.iterdir()), "a refused command must not write anything"
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    first = next(i for i, line in enumerate(lines) if ": error: " in line)
    message = lines[first:]
    assert message[0].startswith(f"crlbench {argv[0]}"), err
    if names not in WITH_FORMAT:
        assert len(message) == 1, f"the error must be one line:\n{err}"
    assert names.format(**world) in message[0], message[0]
    if kind == "conflict" and argv[0] == "evaluate" and names == "--data":
        assert "--overwrite" not in err and "--out" not in err, "evaluate has neither option"


def test_every_subcommand_has_cases():
    assert {c[1][0] for c in CASES} >= {"ls", "info", "generate", "verify", "train", "evaluate", "sweep", "leaderboard", "tracks"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unknown_option_of_every_subcommand(capsys, command):
    code, _, err = run(capsys, [command, "--no-such-option"])
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and f"crlbench {command}: error: " in err


def test_os_error_names_the_argument(capsys, tmp_path, monkeypatch):
    """An OS error no check foresaw still ends in one line that names the argument."""
    import crlbench.datasets.build as build

    def denied(spec, out, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(Path(out) / "x.h5"))

    monkeypatch.setattr(build, "generate", denied)
    code, _, err = run(capsys, ["generate", TRACK, "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"crlbench generate: error: --out {tmp_path / 'o'}: ") and "Permission denied" in err


def test_sweep_checks_every_method_before_training(world, capsys, tmp_path):
    results = tmp_path / "sw"
    code, _, err = run(
        capsys, ["sweep", "--protocol", TRACK, "--methods", f"{PCA},foo", "--data", world["data"], "--results", str(results)]
    )
    assert code == 2 and "'foo'" in err
    assert not list(tmp_path.rglob("*.json")) and not (tmp_path / "sw-runs").exists(), "nothing may run before all methods resolve"


def test_train_generates_a_missing_dataset_and_says_where(capsys, tmp_path):
    root = tmp_path / "data"
    argv = ["train", "--method", PCA, "--dataset", TRACK, "--root", str(root), "--out", str(tmp_path / "run"), "--no-progress"]
    code, out, err = run(capsys, argv)
    assert code == 0, err
    assert f"generating it into {root}" in err
    assert (root / f"{TRACK}.h5").exists() and (tmp_path / "run" / "result.json").exists()
    code, _, err = run(capsys, [*argv[:-3], "--out", str(tmp_path / "run2"), "--no-generate"])
    assert code == 0 and "generating" not in err  # already there: used as is


def test_predictions_record_is_never_replaced(capsys, tmp_path, world):
    argv = [
        "evaluate",
        "--track",
        TRACK,
        "--predictions",
        world["preds_ok"],
        "--data",
        world["data"],
        "--results",
        str(tmp_path / "res"),
        "--record",
        "--name",
        "mine",
    ]
    assert run(capsys, argv)[0] == 0
    (record,) = (tmp_path / "res").rglob("*.json")
    before = record.read_bytes()
    code, _, err = run(capsys, argv)
    assert code == 2 and f"{record} exists" in err and "--name" in err
    assert record.read_bytes() == before


def test_evaluate_generates_missing_data_and_says_where(capsys, tmp_path, world):
    data = tmp_path / "d"
    code, out, err = run(capsys, ["evaluate", "--track", TRACK, "--predictions", world["preds_ok"], "--data", str(data)])
    assert code == 0, err
    assert f"into {data / 'smoke' / (TRACK + '.h5')}" in err
    assert "r2_diag" in json.loads(out)["metrics"]
