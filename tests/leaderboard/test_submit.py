"""Submissions: a complete folder is made and read back, an incomplete or foreign one is
refused with the command that fixes it, and the page shows submitted rows beside the
official ones, marked, with working links (checked in headless Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crlbench.cli import main
from crlbench.datasets.build import generate
from crlbench.leaderboard.protocols import protocol
from crlbench.leaderboard.records import ResultRecord, load_records, record_path
from crlbench.leaderboard.submit import (
    META_FILE,
    MIN_SEEDS,
    SubmissionError,
    load_submission,
    make_submission,
    merge,
    submission_seeds,
)
from crlbench.leaderboard.table import aggregate, to_markdown
from tests.helpers import tiny_spec
from tests.leaderboard.synthetic import record_dict
from tests.leaderboard.test_report import CHROMIUM, chromium, needs_chromium

TRACK = "toy-son-pairs-v1"
CODE = "https://github.com/someone/my-method"
PAPER = "https://arxiv.org/abs/2601.00001"


def write_records(root: Path, method: str, seeds, *, track: str = TRACK, tier: str = "smoke", **overrides) -> list[Path]:
    """Records of ``method`` that ran the track's real protocol (hashes included)."""
    p = protocol(track, tier)
    out = []
    for s in seeds:
        fields = {"protocol_hash": p.hash, "dataset_hash": p.dataset_hash, **overrides}
        d = record_dict(method, track, tier, s, metrics={"r2_diag": 0.6 + 0.1 * s, "mcc_pearson": 0.5}, **fields)
        rec = ResultRecord.from_dict(d)
        out.append(rec.save(record_path(rec, root)))
    return out


def cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse usage errors
        return int(e.code)


def test_submission_seeds_are_every_protocol_seed_and_at_least_three():
    assert MIN_SEEDS == 3
    assert submission_seeds(protocol(TRACK, "smoke")) == (0, 1, 2)  # the smoke protocol has 2
    assert submission_seeds(protocol(TRACK, "paper")) == (0, 1, 2, 3, 4)


def test_make_and_load_a_complete_submission(tmp_path):
    results = tmp_path / "results"
    write_records(results, "mine", (0, 1, 2))
    write_records(results, "someone-else", (0,))  # other methods' records are left out
    sub = make_submission(results, tmp_path / "sub", method="mine", code=CODE, paper=PAPER, external_data=False, name="My method")
    meta = json.loads((tmp_path / "sub" / META_FILE).read_text())
    assert meta == {
        "method": "mine",
        "version": "1.0",
        "code": CODE,
        "paper": PAPER,
        "n_parameters": 1000,
        "external_data": False,
        "name": "My method",
        "crlbench_version": meta["crlbench_version"],
        "entries": [{"track": TRACK, "tier": "smoke", "seeds": [0, 1, 2]}],
    }
    files = sorted(p.relative_to(tmp_path / "sub").as_posix() for p in (tmp_path / "sub").rglob("*.json"))
    assert files == [*(f"records/{TRACK}/smoke/mine-seed{s}.json" for s in range(3)), META_FILE]
    back = load_submission(tmp_path / "sub")
    assert back.meta == sub.meta and sorted(r.seed for r in back.records) == [0, 1, 2]
    assert [r.to_json() for r in back.records] == [r.to_json() for r in load_records(results) if r.method == "mine"]


@pytest.mark.parametrize(
    "seeds, tier, missing",
    [((0, 1), "smoke", "[2]"), ((1, 2), "smoke", "[0]"), ((0, 1, 2), "paper", "[3, 4]")],
)
def test_incomplete_submission_is_refused_with_the_fix(tmp_path, seeds, tier, missing):
    write_records(tmp_path / "results", "mine", seeds, tier=tier)
    with pytest.raises(SubmissionError) as e:
        make_submission(tmp_path / "results", tmp_path / "sub", method="mine", code=CODE, external_data=False)
    flags = " ".join(f"--seed {s}" for s in json.loads(missing))
    on, graph = (", graph 0", "--graph 0 ") if tier == "paper" else ("", "")  # the paper tier covers 3 graphs
    assert f"mine on {TRACK} ({tier}){on}: seeds {missing} are missing; an entry needs every protocol seed and at least 3" in str(e.value)
    assert str(e.value).endswith(f"crlbench evaluate --track {TRACK} --tier {tier} {graph}--method mine {flags}")
    assert not (tmp_path / "sub").exists()


def test_a_graph_without_records_is_refused_with_the_fix(tmp_path):
    write_records(tmp_path / "results", "mine", (0, 1, 2), tier="cpu")  # graph 0 only, of graphs 0, 1, 2
    with pytest.raises(
        SubmissionError,
        match=rf"mine on {TRACK} \(cpu\), graph 1: seeds \[0, 1, 2\] are missing.*"
        rf"--tier cpu --graph 1 --method mine --seed 0 --seed 1 --seed 2$",
    ):
        make_submission(tmp_path / "results", tmp_path / "sub", method="mine", code=CODE, external_data=False)


def test_records_of_another_protocol_are_refused(tmp_path):
    write_records(tmp_path / "results", "mine", (0, 1, 2), protocol_hash="f" * 64)
    with pytest.raises(SubmissionError, match=r"seed 0: the record ran protocol ffffffffffff .*score it again with this crlbench"):
        make_submission(tmp_path / "results", tmp_path / "sub", method="mine", code=CODE, external_data=False)


def test_bad_metadata_and_existing_folders_are_refused(tmp_path):
    results = tmp_path / "results"
    write_records(results, "mine", (0, 1, 2))
    kw = dict(method="mine", code=CODE, external_data=False)
    with pytest.raises(SubmissionError, match=r"^code: expected an http\(s\) link .* got 'javascript:alert\(1\)'"):
        make_submission(results, tmp_path / "a", **{**kw, "code": "javascript:alert(1)"})
    with pytest.raises(SubmissionError, match="--parameters 5: the records count 1000 trainable parameters"):
        make_submission(results, tmp_path / "a", n_parameters=5, **kw)
    with pytest.raises(SubmissionError, match=r"--version '2.0': the records were made by version\(s\) \['1.0'\]"):
        make_submission(results, tmp_path / "a", version="2.0", **kw)
    with pytest.raises(SubmissionError, match="no records of method 'other'"):
        make_submission(results, tmp_path / "a", **{**kw, "method": "other"})
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(SubmissionError, match="exists and is not an empty folder"):
        make_submission(results, tmp_path / "taken", **kw)
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]  # nothing replaced


def test_records_without_a_parameter_count_need_one(tmp_path):
    write_records(tmp_path / "results", "preds", (0, 1, 2), n_parameters=0, method_version="unknown")
    kw = dict(method="preds", code=CODE, external_data=True)
    with pytest.raises(SubmissionError, match="give --parameters N"):
        make_submission(tmp_path / "results", tmp_path / "a", **kw)
    sub = make_submission(tmp_path / "results", tmp_path / "a", n_parameters=4321, version="0.3", **kw)
    assert (sub.meta.n_parameters, sub.meta.version, sub.meta.external_data) == (4321, "0.3", True)


def test_a_tampered_submission_is_refused(tmp_path):
    write_records(tmp_path / "results", "mine", (0, 1, 2))
    sub = make_submission(tmp_path / "results", tmp_path / "sub", method="mine", code=CODE, external_data=False).path
    next(sub.rglob("mine-seed1.json")).unlink()
    with pytest.raises(SubmissionError, match=rf"^{sub}: mine on {TRACK} \(smoke\): seeds \[1\] are missing"):
        load_submission(sub)
    meta = json.loads((sub / META_FILE).read_text())
    del meta["external_data"]
    (sub / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(SubmissionError, match=rf"{META_FILE}: external_data: missing field"):
        load_submission(sub)
    with pytest.raises(SubmissionError, match="not a submission"):
        load_submission(tmp_path / "results")


def test_merge_marks_origin_and_refuses_a_name_clash(tmp_path):
    official = [ResultRecord.from_dict(record_dict("ilcm", TRACK, "smoke", s)) for s in (0, 1)]
    write_records(tmp_path / "results", "mine", (0, 1, 2))
    sub = make_submission(tmp_path / "results", tmp_path / "sub", method="mine", code=CODE, external_data=True, name="My | method")
    records, submitted = merge(official, [load_submission(sub.path)])
    df = aggregate(records, submitted=submitted).set_index("method")
    assert df["origin"].to_dict() == {"ilcm": "official", "My | method": "submitted"}
    assert df.loc["My | method", ["code", "paper", "external_data", "submitted", "n_seeds"]].tolist() == [CODE, "", True, True, 3]
    assert df.loc["ilcm", ["code", "submitted"]].tolist() == ["", False]
    md = to_markdown(aggregate(records, submitted=submitted))
    assert "| My \\| method | smoke | 3 | " in md and md.count("◇") == 2  # the row and the legend
    clash = [ResultRecord.from_dict(record_dict("My | method", TRACK, "smoke", 0))]
    with pytest.raises(SubmissionError, match=r"method 'My \| method' is already in the official results"):
        merge(clash, [load_submission(sub.path)])
    with pytest.raises(SubmissionError, match=rf"is already in {sub.path}"):
        merge(official, [load_submission(sub.path), load_submission(sub.path)])


# --- the command line and the page ------------------------------------------------------------
@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    """Official records of two methods and one submission with hostile text, built by the CLI."""
    root = tmp_path_factory.mktemp("board")
    for m in ("ilcm", "beta-vae"):
        write_records(root / "official", m, (0, 1))
    write_records(root / "mine", "<b>mine</b>", (0, 1, 2))
    argv = [
        "submit",
        str(root / "mine"),
        "--method",
        "<b>mine</b>",
        "--out",
        str(root / "sub"),
        "--code",
        CODE + "?a=1&b=<2>",
        "--paper",
        PAPER,
        "--external-data",
        "no",
    ]
    assert cli(argv) == 0
    assert cli(["submit", "--check", str(root / "sub")]) == 0
    data = generate(tiny_spec(TRACK), root / "data", progress=False)  # its samples: one more in-page link
    assert (
        cli(
            [
                "leaderboard",
                "build",
                str(root / "official"),
                "--submitted",
                str(root / "sub"),
                "--out",
                str(root / "site"),
                "--dataset",
                f"{TRACK}={data}",
            ]
        )
        == 0
    )
    return root


def test_cli_submit_and_build_show_the_submitted_row(board, capsys):
    md = (board / "site" / "results.md").read_text()
    assert "| \\<b\\>mine\\</b\\> | smoke | 3 | " in md and "◇ submitted" in md
    page = (board / "site" / "index.html").read_text()
    assert page.count('<tr class="submitted">') == 1
    assert '<a href="https://github.com/someone/my-method?a=1&amp;b=&lt;2&gt;" rel="noopener noreferrer nofollow">code</a>' in page
    assert f'<a href="{PAPER}" rel="noopener noreferrer nofollow">paper</a>' in page
    assert '<section id="submit"><h2>How to submit a method</h2>' in page and "crlbench submit my-results" in page
    assert "<b>mine</b>" not in page
    csv = (board / "site" / "results.csv").read_text().splitlines()
    assert csv[0].split(",").count("origin") == 1 and sum(",submitted," in row for row in csv[1:]) == 1


def test_cli_refuses_incomplete_or_missing_input(board, tmp_path, capsys):
    capsys.readouterr()
    assert (
        cli(["submit", str(board / "official"), "--method", "ilcm", "--out", str(tmp_path / "s"), "--code", CODE, "--external-data", "no"])
        == 2
    )
    assert "seeds [2] are missing" in capsys.readouterr().err
    assert cli(["submit", str(board / "mine"), "--method", "<b>mine</b>"]) == 2
    assert "missing --out, --code, --external-data" in capsys.readouterr().err
    assert cli(["submit", str(board / "mine"), "--method", "x", "--out", "o", "--code", CODE, "--external-data", "maybe"]) == 2
    assert "answer yes or no, got 'maybe'" in capsys.readouterr().err
    assert (
        cli(["leaderboard", "build", str(board / "official"), "--submitted", str(board / "official"), "--out", str(tmp_path / "site")]) == 2
    )
    assert "not a submission (no submission.json)" in capsys.readouterr().err
    assert not (tmp_path / "site" / "index.html").exists()


_LINK_CHECK = """<script>
var bad = [];
document.querySelectorAll('a[href^="#"]').forEach(function (a) {
  if (!document.getElementById(a.getAttribute('href').slice(1))) bad.push(a.getAttribute('href'));
});
document.querySelectorAll('a:not([href^="#"])').forEach(function (a) {
  if (a.protocol !== 'https:' || a.rel.indexOf('noopener') < 0) bad.push(a.href);
});
document.documentElement.setAttribute('data-links', document.querySelectorAll('a').length + ':' + bad.join(' '));
</script>"""


@needs_chromium
def test_browser_links_resolve_and_the_submitted_row_renders(board, tmp_path):
    """Every in-page link has its target and every outbound one is https with noopener."""
    page = (board / "site" / "index.html").read_text()
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)  # to run the checking script
    copy = tmp_path / "links.html"
    copy.write_text(page.replace("</body>", _LINK_CHECK + "</body>"))
    dom = chromium("--dump-dom", url=copy, tmp=tmp_path)
    n, bad = re.search(r'data-links="(\d+):([^"]*)"', dom).groups()
    assert int(n) >= 5 and bad == ""  # track nav, dataset, "how to submit", code, paper
    assert 'href="#dataset-0"' in dom and 'href="#submit"' in dom
    row = re.search(r'<tr class="submitted">(.*?)</tr>', dom).group(1)
    assert "&lt;b&gt;mine&lt;/b&gt;" in row and ">code</a>" in row and ">paper</a>" in row and "◇" in row
    assert CHROMIUM is not None
