"""Dataset cards: written beside generated and imported files, the Croissant file valid for
``mlcroissant`` and equal to the file's contents, the regenerate command exact."""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import replace
from pathlib import Path

import mlcroissant as mlc
import numpy as np
import pytest
import yaml

from crlbench.cli import main
from crlbench.datasets import load
from crlbench.datasets.build import generate
from crlbench.datasets.card import card_paths, regenerate_command, write_card
from crlbench.registry import CHANGELOG
from tests.helpers import tiny_spec


def cli(argv: list[str]) -> int:
    """The exit status of ``crlbench ARGV`` (usage errors exit through argparse)."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def croissant_records(path: Path) -> tuple[mlc.Dataset, dict[str, list[dict]]]:
    """The Croissant file read by mlcroissant (which raises on an invalid file), its record sets."""
    ds = mlc.Dataset(jsonld=str(path))
    issues = ds.metadata.issues
    assert not issues.errors and not issues.warnings, issues.report()
    out = {}
    for rs in ("variables", "splits", "graph_edges"):
        out[rs] = [{k.split("/", 1)[1]: (v.decode() if isinstance(v, bytes) else v) for k, v in r.items()} for r in ds.records(rs)]
    return ds, out


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A tiny TRIS file (temporal graph) with a non-default scene parameter."""
    return generate(tiny_spec("toy-son-tris-v1", n_vars=3), tmp_path_factory.mktemp("card"), progress=False)


def test_generate_writes_the_card_and_croissant_beside_the_file(generated):
    files = card_paths(generated)
    assert files.markdown.name == "toy-son-tris-v1.md" and files.markdown.parent == generated.parent
    for p in (files.markdown, files.croissant, files.figure):
        assert p.is_file() and p.stat().st_size > 0
    assert files.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_croissant_is_valid_and_matches_the_file(generated):
    data = load(generated)
    ds, records = croissant_records(card_paths(generated).croissant)
    md = ds.metadata
    assert md.name == "toy-son-tris-v1" and md.ctx.is_v1_1()
    (fo,) = md.distribution
    assert fo.sha256 == hashlib.sha256(generated.read_bytes()).hexdigest()
    assert fo.content_size == f"{generated.stat().st_size} B" and fo.encoding_formats == ["application/x-hdf5"]
    assert [r["name"] for r in records["variables"]] == [v.name for v in data.variables] == ["z0", "z1", "z2"]
    assert [(r["kind"], r["low"], r["high"]) for r in records["variables"]] == [(v.kind, v.low, v.high) for v in data.variables]
    assert {r["name"]: r["num_examples"] for r in records["splits"]} == dict(data.spec.splits)
    names = [v.name for v in data.variables]
    edges = {(r["graph"], r["parent"], r["child"]) for r in records["graph_edges"]}
    want = {
        (g, names[i], names[j])
        for g, adj in (("temporal", data.graph.temporal), ("instantaneous", data.graph.instantaneous))
        for i, j in zip(*np.nonzero(adj))
    }
    assert edges == want and edges
    assert data.spec.hash in md.description


def test_markdown_card_front_matter_and_body(generated):
    data = load(generated)
    text = card_paths(generated).markdown.read_text()
    meta = front_matter(text)
    assert meta["license"] == "cc-by-4.0"
    assert meta["annotations_creators"] == ["machine-generated"]
    assert meta["source_datasets"] == ["original"]
    assert meta["size_categories"] == ["n<1K"]  # tiny: 12 + 12 + 12 + 7 + 5 examples
    assert {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]} == dict(data.spec.splits)
    assert meta["dataset_info"]["dataset_size"] == generated.stat().st_size
    assert "| z0 | continuous | [-5, 5] | z0 |" in text
    assert f"| spec hash | `{data.spec.hash}` |" in text
    assert f"| file sha256 | `{hashlib.sha256(generated.read_bytes()).hexdigest()}` |" in text
    assert "![causal graphs of toy-son-tris-v1](toy-son-tris-v1.graphs.png)" in text
    names = [v.name for v in data.variables]
    temporal = ", ".join(f"{names[i]} -> {names[j]}" for i, j in zip(*np.nonzero(data.graph.temporal)))
    assert f"- Temporal (parent at t-1 -> child at t): {temporal}" in text
    assert "policy `bernoulli` (defaults): Independent Bernoulli(p) per variable" in text
    assert "| test_triplets | 5 | (first, second, mix) states; the mix is rendered anew |" in text
    assert "## Licence\n\nThe data is released under Creative Commons Attribution 4.0" in text
    for version, date, change in CHANGELOG["toy-son"]:
        assert f"| v{version} | {date} | {change} |" in text


def test_regenerate_command_in_the_card_reproduces_the_spec(generated, tmp_path, capsys):
    text = card_paths(generated).markdown.read_text()
    command = text.split("## Regenerate\n\n```bash\n")[1].splitlines()[0]
    spec = load(generated).spec
    assert command == regenerate_command(spec)[0] and regenerate_command(spec)[1]
    assert "--param n_vars=3" in command and "--split train=12" in command
    argv = shlex.split(command.replace("--out DIR", f"--out {shlex.quote(str(tmp_path))}"))
    assert argv[:2] == ["crlbench", "generate"]
    assert cli([*argv[1:], "--no-progress"]) == 0
    again = tmp_path / generated.name
    assert load(again).spec.hash == spec.hash
    assert card_paths(again).croissant.exists()


def test_spec_beyond_the_command_line_gets_the_python_route(tmp_path):
    spec = replace(tiny_spec("toy-son-pairs-v1"), policy_params={"none": False})
    command, exact = regenerate_command(spec)
    assert not exact
    path = generate(spec, tmp_path, progress=False)
    text = card_paths(path).markdown.read_text()
    assert "regenerate it from Python:" in text and f"generate(DatasetSpec.from_json({spec.to_json()!r}), 'DIR')" in text
    assert "(none=False)" in text


def test_imported_file_card_names_the_release(tmp_path):
    from crlbench.datasets.importers import import_release
    from tests.datasets.release_files import write_ilcm

    src = write_ilcm(tmp_path / "release", shards=1, n=6, side=16)
    out = import_release("ilcm-causalcircuit", src, tmp_path / "out")
    files = card_paths(out)
    text = files.markdown.read_text()
    assert front_matter(text)["source_datasets"] == ["ilcm-causalcircuit"]
    assert "crlbench import ilcm-causalcircuit FOLDER --out DIR\n" in text  # columns inferred: no option
    digest = hashlib.sha256((src / "val.npz").read_bytes()).hexdigest()
    assert f"| val.npz | `{digest}` |" in text
    assert "the release's own licence and terms apply" in text
    _, records = croissant_records(files.croissant)
    assert [r["name"] for r in records["variables"]] == ["arm", "red", "green", "blue"]


def test_card_cli_rewrites_and_refuses_bad_input(generated, tmp_path, capsys):
    files = card_paths(generated)
    files.markdown.unlink()
    assert cli(["card", str(generated), "--license", "cc0-1.0"]) == 0
    assert front_matter(files.markdown.read_text())["license"] == "cc0-1.0"
    assert json.loads(files.croissant.read_text())["license"] == "https://spdx.org/licenses/CC0-1.0.html"
    write_card(generated)  # back to the default for the other tests
    missing = tmp_path / "nope.h5"
    assert cli(["card", str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    assert cli(["card", str(generated), "--license", "all-rights"]) == 2
    assert "argument --license: invalid choice: 'all-rights'" in capsys.readouterr().err


def test_every_registered_dataset_version_has_a_changelog_row():
    from crlbench.registry import DATASETS

    for did, entry in DATASETS.items():
        version = int(did.rsplit("-v", 1)[1])
        assert version in [v for v, _, _ in CHANGELOG.get(entry.scene, ())], f"{did}: add a row to crlbench.registry.CHANGELOG"
