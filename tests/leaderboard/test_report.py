"""The static site: files, plots, marks, escaping (checked in headless Chromium), the CLI.

The browser tests need the Debian package ``chromium``; they are skipped, saying so, when no
Chromium binary is on PATH. Set ``CRLBENCH_SCREENSHOT=docs/images/leaderboard_screenshot.png``
to refresh the screenshot committed with the docs.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest

from crlbench.cli import main
from crlbench.datasets.build import generate
from crlbench.leaderboard.records import ResultRecord, load_records
from crlbench.leaderboard.report import _grid, build_site
from tests.helpers import tiny_spec
from tests.leaderboard.synthetic import record_dict, rich_record, write_smoke_results

EVIL_SCRIPT = "<script>document.title='PWNED'</script>"
EVIL_IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
EVIL_TRACK = "zz-track<script>document.title='PWNED2'</script>"
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, object]:
    """Two real-looking tracks, hostile names and deviations, and one dataset's samples."""
    root = tmp_path_factory.mktemp("lb")
    write_smoke_results(root / "results", tracks=("toy-son-pairs-v1", "toy-son-triplets-v1"), image=12)
    evil = [
        rich_record("identity", "toy-son-pairs-v1", "smoke", 0).to_dict() | {"method": EVIL_SCRIPT, "dataset_id": "toy-son-pairs-v1"},
        record_dict(EVIL_IMG, "toy-son-pairs-v1", "paper", 0, deviations=[f"ran {EVIL_SCRIPT} for 2 epochs"]),
        record_dict("dollar $x^2$ method", EVIL_TRACK, "smoke", 0, dataset_id=f"ds-{EVIL_IMG}"),
    ]
    for i, d in enumerate(evil):
        ResultRecord.from_dict(d).save(root / "results" / "evil" / f"{i}.json")
    data = generate(tiny_spec("toy-son-pairs-v1"), root / "data", progress=False)
    df = build_site(load_records(root / "results"), root / "site", datasets={"toy-son-pairs-v1": data})
    return root / "site", df


def chromium(*args: str, url: Path, tmp: Path, timeout: float = 60) -> str:
    profile = tmp / "chromium-profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        *args,
        url.as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_site_files_and_content(site):
    out, df = site
    page = (out / "index.html").read_text()
    assert {p.name for p in out.iterdir()} == {"index.html", "results.md", "results.csv"}
    assert (out / "results.md").read_text().startswith("### toy-son-pairs-v1 (main tier: paper)")
    assert len((out / "results.csv").read_text().splitlines()) == len(df) + 1
    # per-variable heatmaps (3 tracks), graphs (2), triplet images (5 methods), dataset samples
    assert page.count('src="data:image/png;base64,') == 3 + 2 + 5 + 1
    assert page.count('<table class="r2">') == 11  # 10 methods + the hostile copy of identity
    assert "Triplet examples of <b>citris-nf</b> (seed 0); columns: first, second, decoded, true third" in page
    assert 'id="dataset-0"' in page and "Observations of the first 6 samples of <b>toy-son-pairs-v1</b>" in page
    # marks: smoke rows of a track with a paper record are "other tier"; post-hoc; deviations
    # pairs has a paper record, so its main tier is paper and its smoke rows are "other tier"
    assert page.count('<tr class="post_hoc other_tier">') == 1  # beta-vae on pairs
    assert page.count('<tr class="other_tier">') == 5
    assert page.count('<tr class="post_hoc">') == 1  # beta-vae on triplets (main tier smoke)
    assert page.count('<tr class="deviated">') == 1
    assert f"ran {EVIL_SCRIPT}".replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#x27;") in page


def test_everything_user_provided_is_escaped(site):
    page = (site[0] / "index.html").read_text()
    assert page.count("<script") == 1  # the page's own sorting script
    assert "<img" not in page.replace('<img src="data:image/png;base64,', "")
    for raw in (EVIL_SCRIPT, EVIL_IMG, EVIL_TRACK):
        assert raw not in page
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in page
    assert "ds-&lt;img src=x onerror=&quot;" in page
    assert "Content-Security-Policy" in page and "script-src 'sha256-" in page


def test_grid_upscales_and_tiles():
    img = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    g = _grid(img, min_side=8, pad=1)
    assert g.shape == (2 * 9 + 1, 3 * 9 + 1, 3)
    assert (g[1:3, 1:3] == img[0, 0, 0, 0]).all()


@needs_chromium
def test_browser_runs_no_injected_script_and_shows_text(site, tmp_path):
    dom = chromium("--dump-dom", url=site[0] / "index.html", tmp=tmp_path)
    assert 'data-sortable="ready"' in dom, "the page's own script did not run: the check would prove nothing"
    assert "<title>crlbench leaderboard</title>" in dom and "PWNED</title>" not in dom
    assert "data-pwned" not in dom.replace("setAttribute('data-pwned','1')", "")
    assert dom.count("<script") == 1
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom  # shown as text
    assert "&lt;img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\"&gt;" in dom
    assert "zz-track&lt;script&gt;document.title='PWNED2'&lt;/script&gt;" in dom


@needs_chromium
def test_browser_sorts_a_column(site, tmp_path):
    """Click the r2_diag header (page copy without its CSP, plus a clicking script)."""
    page = (site[0] / "index.html").read_text()
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    click = "<script>var th = document.querySelector('table.sortable th:nth-child(4)'); th.click(); th.click();</script>"
    copy = tmp_path / "sort.html"
    copy.write_text(page.replace("</body>", click + "</body>"))
    dom = chromium("--dump-dom", url=copy, tmp=tmp_path)
    table = dom.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)
    shown = [float(re.findall(r'<td[^>]*?data-v="([^"]*)"', row)[1]) for row in rows]  # after Seeds: r2_diag
    assert "r2_diag" in dom.split("<thead>")[1].split("</thead>")[0]
    assert len(shown) == 7 and shown == sorted(shown, reverse=True)  # second click: descending


@needs_chromium
def test_browser_screenshot_renders_table_and_plots(site, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,1800", "--hide-scrollbars", url=site[0] / "index.html", tmp=tmp_path)
    img = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("RGB"))
    assert img.shape == (1800, 1280, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 500  # text, table shading and plots, not a blank page
    if os.environ.get("CRLBENCH_SCREENSHOT"):
        shutil.copy(shot, os.environ["CRLBENCH_SCREENSHOT"])


def test_cli_build_prints_the_table(site, tmp_path, capsys):
    results = tmp_path / "results"
    write_smoke_results(results, tracks=("toy-son-tris-v1",), methods=("ilcm",), seeds=(0,))
    code = main(["leaderboard", "build", str(results), "--out", str(tmp_path / "site")])
    out = capsys.readouterr().out
    assert code == 0 and (tmp_path / "site" / "index.html").exists()
    assert "| ilcm | smoke | 1 | " in out and "wrote " in out
    bad = results / "bad.json"
    bad.write_text(json.dumps(record_dict(metrics={"mcc": "high"})))
    code = main(["leaderboard", "build", str(results), "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}: metrics.mcc: expected a number" in err


def test_dataset_sample_of_image_pairs(monkeypatch):
    """Image datasets become a grid, one sample per row (no renderer needed: a fake file)."""
    import crlbench.datasets
    from crlbench.leaderboard.report import _dataset_sample

    obs = np.random.default_rng(0).integers(0, 256, (9, 2, 8, 8, 3), dtype=np.uint8)
    monkeypatch.setattr(crlbench.datasets, "load", lambda path: _Fake(obs))
    html_ = _dataset_sample("<b>x</b>", "any.h5")
    assert "6 samples of <b>&lt;b&gt;x&lt;/b&gt;</b> (spec hash abababababab, split train)" in html_
    monkeypatch.setattr(crlbench.datasets, "load", lambda path: (_ for _ in ()).throw(OSError("truncated")))
    assert "cannot read any.h5 (truncated)" in _dataset_sample("d", "any.h5")


class _Fake:
    """Just what ``_dataset_sample`` reads of a loaded dataset."""

    def __init__(self, obs):
        self.splits = {"train": types.SimpleNamespace(observations=obs)}
        self.spec = types.SimpleNamespace(hash="ab" * 32)

    def __getitem__(self, split):
        return self.splits[split]
