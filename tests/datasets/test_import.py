"""`crlbench import`: the original releases -> crlbench files that load, train and score.

The release files are small ones written by the tests in the releases' formats
(:mod:`tests.datasets.release_files`).
"""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
import pytest

from crlbench.cli import main
from crlbench.datasets import load
from crlbench.datasets.importers import import_release
from crlbench.datasets.importers.citris import KEEP as CITRIS_KEEP
from crlbench.datasets.verify import verify
from crlbench.errors import CrlbenchError, UnknownIdError
from tests.datasets.release_files import ILCM_ORDER, pair_image, write_citris, write_ilcm


@pytest.fixture(scope="module")
def citris(tmp_path_factory):
    root = tmp_path_factory.mktemp("citris")
    src = write_citris(root / "release", n=40, side=32)
    return src, import_release("citris-causal3dident", src, root / "out")


@pytest.fixture(scope="module")
def ilcm(tmp_path_factory):
    root = tmp_path_factory.mktemp("ilcm")
    src = write_ilcm(root / "release")
    return src, import_release("ilcm-causalcircuit", src, root / "out")


def _npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


# --- CITRIS Temporal Causal3DIdent ------------------------------------------------------------


def test_citris_maps_latents_targets_and_images(citris):
    src, path = citris
    ds = load(path)
    assert ds.spec.mode == "sequences" and ds.spec.resolution == 32
    assert [v.name for v in ds.variables] == ["pos_o", "rot_o", "rot_s", "hue_o", "hue_s", "hue_b"]
    assert sorted(ds.splits) == ["test", "test_indep", "test_triplets", "train", "val"]
    raw = _npz(src / "train.npz")
    seq = ds["train"]
    np.testing.assert_array_equal(seq.latents, raw["raw_latents"][:, list(CITRIS_KEEP)].astype(np.float64))
    np.testing.assert_array_equal(np.asarray(seq.observations), raw["imgs"][..., :3])  # alpha dropped
    # Row t of the release's flags is the step t -> t+1; grouped variables: any of their columns.
    f = raw["interventions"]
    want = np.stack([f[:, 0:3].any(1), f[:, 3:6].any(1), f[:, 6] != 0, f[:, 7] != 0, f[:, 8] != 0, f[:, 9] != 0], axis=1)
    assert not seq.targets[0].any()
    np.testing.assert_array_equal(seq.targets[1:], want[:-1].astype(np.uint8))
    assert seq.noise.shape == (40, 0)


def test_citris_triplets_and_probe_set(citris):
    src, path = citris
    ds = load(path)
    raw = _npz(src / "test_triplets.npz")
    trip = ds["test_triplets"]
    np.testing.assert_array_equal(trip.latents, raw["raw_latents"][..., list(CITRIS_KEEP)].astype(np.float64))
    np.testing.assert_array_equal(trip.mask[:, 0], raw["interventions"][:, 0].astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(trip.observations), raw["imgs"][..., :3])
    mixed = np.where(np.repeat(trip.mask.astype(bool), [3, 2, 1, 1, 1, 1], axis=1), trip.latents[:, 1], trip.latents[:, 0])
    np.testing.assert_array_equal(mixed, trip.latents[:, 2])  # mask 1: from the second state
    np.testing.assert_array_equal(ds["test_indep"].latents, _npz(src / "test_indep.npz")["raw_latents"][:, list(CITRIS_KEEP)])


def test_source_and_sha256_of_every_input_are_recorded(citris):
    src, path = citris
    with h5py.File(path) as f:
        info = json.loads(f.attrs["source"])
    assert info["format"] == "citris-causal3dident"
    for name in ("train.npz", "val.npz", "test.npz", "test_indep.npz", "test_triplets.npz"):
        assert info["files"][name] == hashlib.sha256((src / name).read_bytes()).hexdigest()
    spec = load(path).spec
    assert spec.render["imported"] == "citris-causal3dident" and spec.policy == "imported"


def test_other_release_content_gets_another_spec_hash(citris, tmp_path):
    src, path = citris
    other = write_citris(tmp_path / "release", n=40, side=32, seed=1)
    new = import_release("citris-causal3dident", other, tmp_path / "out")
    assert load(new).spec.hash != load(path).spec.hash


def test_uncompressed_npz_and_downsampling(tmp_path):
    src = write_citris(tmp_path / "release", n=5, side=16, compressed=False)
    ds = load(import_release("citris-causal3dident", src, tmp_path / "out", resolution=8))
    imgs = _npz(src / "val.npz")["imgs"][..., :3].astype(float)
    box = imgs.reshape(5, 8, 2, 8, 2, 3).mean(axis=(2, 4))  # area average of 2x2 blocks
    assert np.abs(np.asarray(ds["val"].observations).astype(float) - box).max() <= 1


def test_several_shapes_become_obj_s(tmp_path):
    src = write_citris(tmp_path / "release", n=30, side=8, shapes=True)
    ds = load(import_release("citris-causal3dident", src, tmp_path / "out"))
    assert ds.variables[-1].name == "obj_s" and ds.variables[-1].n_categories == 7
    np.testing.assert_array_equal(ds["train"].latents[:, -1], _npz(src / "train.npz")["shape_latents"][:, 0])
    assert ds.spec.params["shapes"][:2] == ["teapot", "armadillo"]


def _rewrite(path, **changes):
    arrays = _npz(path)
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del arrays[key]
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("split", "change", "needle"),
    [
        ("val", "delete", "val.npz is missing"),
        ("train", {"raw_latents": None}, "'raw_latents' (or 'latents') is missing; the file has imgs, interventions"),
        ("test", {"raw_latents": np.zeros((8, 9), np.float32)}, "'raw_latents' has shape (8, 9)"),
        ("train", {"imgs": np.zeros((8, 8, 6, 4), np.uint8)}, "square RGBA frames"),
        ("test", {"interventions": np.zeros((8, 4))}, "intervention flags"),
    ],
)
def test_citris_bad_release_names_what_is_wrong(tmp_path, split, change, needle):
    src = write_citris(tmp_path / "release", n=8, side=8)
    if change == "delete":
        (src / f"{split}.npz").unlink()
    else:
        _rewrite(src / f"{split}.npz", **change)
    with pytest.raises(CrlbenchError) as e:
        import_release("citris-causal3dident", src, tmp_path / "out")
    assert needle in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_citris_values_crlbench_cannot_hold(tmp_path):
    src = write_citris(tmp_path / "release", n=8, side=8)
    raw = _npz(src / "train.npz")["raw_latents"]
    gamma = raw.copy()
    gamma[3, 5] = 0.3
    _rewrite(src / "train.npz", raw_latents=gamma)
    with pytest.raises(CrlbenchError, match="gamma"):
        import_release("citris-causal3dident", src, tmp_path / "out")
    far = raw.copy()
    far[2, 1] = 3.0  # y outside [-2, 2]
    _rewrite(src / "train.npz", raw_latents=far)
    with pytest.raises(CrlbenchError, match=r"column 1 \(pos_o.y\) is 3 in row 2"):
        import_release("citris-causal3dident", src, tmp_path / "out")


def test_fine_triplets_point_to_the_coarse_file(tmp_path):
    src = write_citris(tmp_path / "release", n=8, side=8)
    trip = _npz(src / "test_triplets.npz")
    lat, mask = trip["raw_latents"].copy(), trip["interventions"].copy()
    mask[0, 0:3] = [1, 0, 0]  # x from the second state, y and z from the first
    lat[0, 2, :3] = [lat[0, 1, 0], lat[0, 0, 1], lat[0, 0, 2]]
    _rewrite(src / "test_triplets.npz", raw_latents=lat, interventions=mask)
    with pytest.raises(CrlbenchError, match="test_triplets_coarse.npz"):
        import_release("citris-causal3dident", src, tmp_path / "out")


# --- ILCM CausalCircuit ---------------------------------------------------------------------


def test_ilcm_reorders_columns_and_decodes_images(ilcm):
    src, path = ilcm
    ds = load(path)
    names = [v.name for v in ds.variables]
    order = [ILCM_ORDER.index(n) for n in names]  # release column of each crlbench variable
    assert ds.spec.mode == "pairs" and ds.spec.splits == {"train": 30, "val": 15, "test": 15, "test_indep": 15}
    shards = [_npz(src / f"train-{i}.npz") for i in range(2)]
    z = np.concatenate([s["original_latents"] for s in shards])[..., order]
    np.testing.assert_array_equal(ds["train"].latents, z.astype(np.float64))
    masks = np.concatenate([s["intervention_masks"] for s in shards])[:, order]
    np.testing.assert_array_equal(ds["train"].targets, masks.astype(np.uint8))
    eps = np.concatenate([s["epsilon"] for s in shards])[..., order]
    np.testing.assert_array_equal(ds["train"].noise, eps.reshape(30, 8).astype(np.float64))
    red, green, blue = names.index("red"), names.index("green"), names.index("blue")
    want = np.stack([[pair_image(p[[red, green, blue]], 32) for p in pair] for pair in ds["train"].latents])
    assert np.abs(np.asarray(ds["train"].observations).astype(int) - want).max() <= 8  # JPEG
    # The probe set: the pre-intervention half of the test pairs.
    np.testing.assert_array_equal(ds["test_indep"].latents, ds["test"].latents[:, 0])
    np.testing.assert_array_equal(np.asarray(ds["test_indep"].observations), np.asarray(ds["test"].observations)[:, 0])
    with h5py.File(path) as f:
        assert json.loads(f.attrs["source"])["options"]["columns"] == "inferred: arm=3,red=0,green=1,blue=2"


def test_ilcm_columns_given_and_resolution(tmp_path, ilcm):
    src, path = ilcm
    ds = load(import_release("ilcm-causalcircuit", src, tmp_path, columns=",".join(ILCM_ORDER), resolution=8))
    np.testing.assert_array_equal(ds["val"].latents, load(path)["val"].latents)
    assert np.asarray(ds["val"].observations).shape == (15, 2, 8, 8, 3)
    with pytest.raises(CrlbenchError, match="must name each of arm, red, green, blue once"):
        import_release("ilcm-causalcircuit", src, tmp_path / "x", columns="arm,red,green")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("drop-shard", "train-1.npz is missing"),
        ("labels", "pair 3 has intervention label 2 but mask [0, 1, 0, 0], while label 2 means [0, 0, 0, 1]"),
        ("empty-label", "pair 0 has intervention label 3 but no target in its mask"),
        ("no-single-arm", "give it with --columns"),
        ("latents", "'original_latents' has shape (15, 2, 3)"),
    ],
)
def test_ilcm_bad_release_names_what_is_wrong(tmp_path, edit, needle):
    src = write_ilcm(tmp_path / "release", shards=3, n=10 if edit == "no-single-arm" else 15, side=8)
    if edit == "drop-shard":
        (src / "train-1.npz").unlink()
    elif edit in ("labels", "empty-label"):  # pair 0: no target; pair 1: the arm (release label 4)
        d = _npz(src / "val.npz")
        d["intervention_labels"][0 if edit == "empty-label" else 1] = 3 if edit == "empty-label" else 2
        np.savez(src / "val.npz", **d)
    elif edit == "no-single-arm":  # no pair intervenes on the arm (release column 3) alone
        for name in ("train-0", "train-1", "train-2"):
            d = _npz(src / f"{name}.npz")
            keep = ~d["intervention_masks"][:, 3]
            np.savez(src / f"{name}.npz", **{k: v[keep] for k, v in d.items()})
    else:
        d = _npz(src / "test.npz")
        d["original_latents"] = d["original_latents"][..., :3]
        np.savez(src / "test.npz", **d)
    with pytest.raises(CrlbenchError) as e:
        import_release("ilcm-causalcircuit", src, tmp_path / "out")
    assert needle in str(e.value)


# --- verify, the command line ------------------------------------------------------------------


def test_verify_rehashes_the_inputs_instead_of_regenerating(tmp_path):
    src = write_ilcm(tmp_path / "release", side=8)
    path = import_release("ilcm-causalcircuit", src, tmp_path / "out")
    assert verify(path).ok
    report = verify(path, regenerate=True)
    assert report.ok and {c.key for c in report.checks} >= {"source train-0.npz", "source test.npz"}
    d = _npz(src / "val.npz")
    d["epsilon"] = d["epsilon"] + 1
    np.savez(src / "val.npz", **d)
    (src / "test.npz").unlink()
    failures = {c.key: c.status for c in verify(path, regenerate=True).failures}
    assert failures == {"source val.npz": "differs", "source test.npz": "missing"}


def test_cli_verify_on_a_release_file_says_what_it_is(tmp_path, capsys):
    src = write_citris(tmp_path / "release", n=4, side=8)
    assert main(["verify", str(src / "train.npz")]) == 2
    err = capsys.readouterr().err
    assert "NumPy .npz archive holding imgs, interventions, raw_latents, shape_latents" in err
    assert "no HDF5 header, spec or manifest" in err and "crlbench import citris-causal3dident" in err
    assert "truncated" not in err
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    assert main(["verify", str(tmp_path / "other.npz")]) == 2
    assert "citris-causal3dident lacks imgs, raw_latents" in capsys.readouterr().err


def test_cli_import(tmp_path, capsys):
    src = write_ilcm(tmp_path / "release", side=8)
    out = tmp_path / "data"
    assert main(["import", "ilcm-causalcircuit", str(src), "--out", str(out), "--no-progress"]) == 0
    path = out / "causal-circuit-pairs-ilcm.h5"
    assert str(path) in capsys.readouterr().out and main(["verify", str(path), "--regenerate"]) == 0
    before = path.read_bytes()
    assert main(["import", "ilcm-causalcircuit", str(src), "--out", str(out), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err and path.read_bytes() == before
    assert main(["import", "ilcm-causalcircuit", str(src), "--out", str(out), "--no-progress", "--overwrite", "--resolution", "4"]) == 2
    assert "resolution must be between 8" in capsys.readouterr().err and path.read_bytes() == before
    assert main(["import", "ilcm-causalcircuit", str(src), "--out", str(out), "--no-progress", "--instantaneous"]) == 2
    assert "--instantaneous does not apply to ilcm-causalcircuit" in capsys.readouterr().err
    assert main(["import", "ilcm-causalcircut", str(src), "--out", str(out)]) == 2
    assert "Did you mean 'ilcm-causalcircuit'" in capsys.readouterr().err
    with pytest.raises(UnknownIdError):
        import_release("citris", src, out)


# --- the same protocols and evaluator --------------------------------------------------------


def test_imported_data_trains_and_scores_under_the_tracks_protocol(citris, ilcm, tmp_path):
    from crlbench.baselines.run import train
    from crlbench.leaderboard.evaluate import Evaluator
    from crlbench.leaderboard.imported import protocol_for
    from crlbench.leaderboard.protocols import protocol

    ds = load(citris[1])
    proto = protocol_for(ds, "smoke")
    assert proto.dataset_hash == ds.spec.hash and proto.track.startswith("causal3dident-tris-v")
    assert proto.hash != protocol(proto.track, "smoke").hash and proto.probe == protocol(proto.track, "smoke").probe
    perfect = Evaluator(proto, ds).evaluate({"probe_latents": ds["test_indep"].latents}, seed=0)
    noise = np.random.default_rng(0).standard_normal(ds["test_indep"].latents.shape)
    junk = Evaluator(proto, ds).evaluate({"probe_latents": noise}, seed=0)
    assert perfect.metrics["mcc_pearson"] > 0.99 > junk.metrics["mcc_pearson"] + 0.3
    run = train(
        "citris-vae",
        ds,
        0,
        tmp_path / "run",
        budget="2steps",
        params={"channels": 8, "n_latents": 8},
        loop={"batch_size": 8},
        device="cpu",
        progress=False,
        threads=1,
    )
    assert (run / "result.json").exists() and json.loads((run / "config.json").read_text())["dataset"]["spec_hash"] == ds.spec.hash

    pairs = load(ilcm[1])
    p2 = protocol_for(pairs, "smoke")
    assert p2.track.startswith("causal-circuit-pairs-v") and p2.mode == "pairs"
    truth = np.c_[~pairs["test"].targets.any(1), pairs["test"].targets].argmax(1)
    ev = Evaluator(p2, pairs).evaluate({"probe_latents": pairs["test_indep"].latents, "test_inferred_targets": truth})
    assert ev.metrics["intervention_accuracy"] == 1.0
    with pytest.raises(CrlbenchError, match="generated, not imported"):
        protocol_for(type("D", (), {"spec": protocol("toy-son-pairs-v1").dataset_spec()})())


def test_ilcm_targets_come_from_the_masks_whatever_the_label_numbers(tmp_path):
    src = write_ilcm(tmp_path / "release", side=8)
    for name in ("train-0", "train-1", "val", "test"):
        d = _npz(src / f"{name}.npz")
        d["intervention_labels"] = np.array([0, 3, 4, 1, 2])[d["intervention_labels"]]  # other numbering
        np.savez(src / f"{name}.npz", **d)
    ds = load(import_release("ilcm-causalcircuit", src, tmp_path / "out"))
    order = [ILCM_ORDER.index(v.name) for v in ds.variables]
    np.testing.assert_array_equal(ds["val"].targets, _npz(src / "val.npz")["intervention_masks"][:, order].astype(np.uint8))
