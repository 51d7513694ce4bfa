"""The static leaderboard site: ``index.html`` with inline plots, plus ``results.md`` / ``.csv``.

:func:`build_site` aggregates records (:func:`crlbench.leaderboard.table.aggregate`) and
writes one self-contained page: per track a sortable table (click a header; a few lines of
inline vanilla JS), per-variable R² heatmaps (mean over seeds), mean R² matrices, learned
versus true graphs, triplet examples, sample images of each dataset given, and how to
submit a method. Official and submitted rows (``crlbench submit``) share the tables; a
submitted row is marked and links its code and paper. Plots are PNGs embedded as ``data:``
URIs, so the site folder can be hosted as it is.

Safety: every user-provided string (method, track, dataset, variable names, deviations) is
HTML-escaped, and a Content-Security-Policy admits only the page's own script (by hash) and
``data:`` images, so even a missed escape could not run code. Plot labels are drawn with
mathtext off, so a ``$`` in a name is just a dollar sign.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crlbench.datasets.card import draw_graph
from crlbench.leaderboard.records import ResultRecord
from crlbench.leaderboard.table import (
    MARKS,
    MainTier,
    aggregate,
    aggregate_graphs,
    format_mean_std,
    lower_is_better,
    marks,
    metric_names,
    to_csv,
    to_markdown,
)
from crlbench.locks import output_folder

__all__ = ["build_site", "render_html"]

_SCRIPT = """\
(function () {
  function key(td, num) {
    var v = td.getAttribute('data-v');
    if (!num) return td.textContent.toLowerCase();
    return v === null || v === '' ? NaN : parseFloat(v);
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      th.tabIndex = 0;
      function sort() {
        var num = th.getAttribute('data-type') === 'num';
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[i], num), y = key(b.cells[i], num);
          if (num) {  // missing values last in both directions
            if (isNaN(x)) return isNaN(y) ? 0 : 1;
            if (isNaN(y)) return -1;
          }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sort(); });
    });
  });
  document.documentElement.setAttribute('data-sortable', 'ready');
})();
"""

_STYLE = """\
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
.meta, .legend, .caption { color: #555; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: .3em .6em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; cursor: pointer; user-select: none; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
td:first-child { white-space: normal; overflow-wrap: anywhere; min-width: 12em; max-width: 28em; }
.scroll { overflow-x: auto; max-width: 100%; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
tr.post_hoc td { background: #fff6d6; }
tr.deviated td, tr.other_protocol td { background: #fde2e2; }
tr.other_tier td { color: #777; font-style: italic; }
tr.submitted td:first-child { border-left: 3px solid #3a6ea5; }
.links a { margin-left: .4em; font-size: 90%; } .external { color: #b00; font-size: 90%; margin-left: .4em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
.marks { color: #b00; font-weight: bold; margin-left: .3em; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; } figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
figcaption { color: #555; font-size: 90%; max-width: 32em; }
code { font-size: 90%; }
table.r2 { margin: 0; font-size: 85%; } table.r2 td { border: 1px solid #fff; padding: .15em .4em; }
table.r2 th { cursor: default; background: none; font-weight: normal; }
"""


_HOW_TO_SUBMIT = """\
<section id="submit"><h2>How to submit a method</h2>
<p>Rows marked <span class="marks">{mark}</span> are submissions: their authors trained and scored
them with crlbench on the track's protocol; the other rows are the maintainers' official runs.
Metrics are always computed by crlbench, never taken from the submitter.</p>
<ol>
<li>Implement the method contract (<code>fit</code>, <code>encode</code>; optionally
<code>assignment</code>, <code>decode</code>, <code>graph</code>, <code>infer_targets</code>) in a
class, in any package or file.</li>
<li>Train and score it on every seed of a track (at least 3; <code>crlbench tracks</code> lists the tracks):
<pre>crlbench evaluate --track toy-son-pairs-v1 --method my_pkg.module:MyMethod --seed 0 --seed 1 --seed 2 --results my-results</pre></li>
<li>Make the submission folder: the records plus the metadata (version, code and paper links,
parameter count, whether external data was used); it is refused if a seed is missing:
<pre>crlbench submit my-results --method my_pkg.module:MyMethod --code https://github.com/me/my-method \\
  --paper https://arxiv.org/abs/XXXX.XXXXX --external-data no --out my-submission</pre></li>
<li>Send the folder to the leaderboard's maintainers (for example as a pull request); they check
it again and add it to the page:
<pre>crlbench leaderboard build results --submitted my-submission --out site</pre></li>
</ol>
</section>"""


def _e(x: Any) -> str:
    """HTML-escape any value (quotes included, so it is safe inside attributes too)."""
    return html.escape(str(x), quote=True)


def _png(fig: Any, tight: bool = True) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight" if tight else None)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _png_array(img: np.ndarray) -> str:
    """Encode an (H, W[, 3]) uint8 image as base64 PNG (no matplotlib: fast)."""
    from PIL import Image  # noqa: PLC0415

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(b64: str, alt: str, caption: str) -> str:
    return f'<figure><img src="data:image/png;base64,{b64}" alt="{_e(alt)}"><figcaption>{caption}</figcaption></figure>'


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # noqa: PLC0415 - no pyplot: no global state, Agg canvas for PNG

    return Figure(figsize=(width, height), layout=None)


# --- plots -------------------------------------------------------------------------------
def _short(text: str, n: int = 24) -> str:
    """Plot labels are cut so that long names cannot overlap their neighbours."""
    return text if len(text) <= n else text[: n - 1] + "…"


def _link(url: object, text: str) -> str:
    """An outbound link, only for http(s) URLs (anything else would be a script vector)."""
    url = str(url or "")
    if not url.startswith(("https://", "http://")):
        return ""
    return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(text)}</a>'


def _row_label(method: str, tier: str, main: str) -> str:
    return method if tier == main else f"{method} [{tier}]"


def _heatmap(ax: Any, m: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str) -> Any:
    im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), [_short(str(c), 16) for c in cols], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [_short(str(r), 32) for r in rows])
    ax.set_title(title, fontsize=10)
    if m.size <= 150:
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if v < 0.6 else "k")
    return im


def _per_variable_heatmaps(groups: list[tuple[str, list[ResultRecord]]]) -> str | None:
    """Rows x variables, mean over seeds, for each per-variable R² metric of the track."""
    names = sorted({k for _, rs in groups for r in rs for k in r.per_variable if k.startswith("r2")})
    if not names:
        return None
    fig = _new_figure(1.0, 1.0)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    width = 0.0
    for ax, name in zip(axes, names):
        labels, variables, values = [], [], []
        for label, rs in groups:
            per = [r.per_variable[name] for r in rs if name in r.per_variable]
            if not per:
                continue
            for p in per:
                variables += [v for v in p if v not in variables]
            labels.append(label)
            values.append([np.mean([p[v] for p in per if v in p]) if any(v in p for p in per) else np.nan for v in variables])
        m = np.full((len(labels), len(variables)), np.nan)
        for i, row in enumerate(values):
            m[i, : len(row)] = row
        im = _heatmap(ax, m, labels, variables, f"{name} per variable (mean over seeds)")
        width += 1.2 + 0.55 * len(variables) + 0.07 * min(32, max(map(len, labels)))
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    fig.set_size_inches(min(width + 1.0, 16), 1.4 + 0.32 * len(groups))
    return _png(fig)


def _color(v: float) -> str:
    """Viridis colour of ``v`` in [0, 1] as ``#rrggbb`` (grey when not finite)."""
    from matplotlib import colormaps  # noqa: PLC0415
    from matplotlib.colors import to_hex  # noqa: PLC0415

    return to_hex(colormaps["viridis"](min(max(v, 0.0), 1.0))) if np.isfinite(v) else "#dddddd"


def _r2_matrices(groups: list[tuple[str, list[ResultRecord]]]) -> list[str]:
    """The mean ``r2_matrix`` artifact of every row, as colour-coded HTML tables.

    HTML rather than matplotlib: crisp, searchable, and ~100x faster than an annotated
    image per method (the whole site must build in seconds).
    """
    out = []
    for label, rs in groups:
        mats = [np.asarray(r.artifacts["r2_matrix"], float) for r in rs if "r2_matrix" in r.artifacts]
        mats = [m for m in mats if m.shape == mats[0].shape] if mats else []
        if not mats:
            continue
        m = np.mean(mats, axis=0)
        art = next(r for r in rs if "r2_matrix" in r.artifacts).artifacts
        rows = art.get("r2_matrix_rows") or []
        cols = art.get("variables") or []
        if len(rows) != m.shape[0]:
            rows = [f"group {i}" for i in range(m.shape[0])]
        if len(cols) != m.shape[1]:
            cols = [f"v{j}" for j in range(m.shape[1])]
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join(
            f'<tr><th class="text">{_e(rows[i])}</th>'
            + "".join(f'<td style="background:{_color(v)};color:{"#fff" if v < 0.6 else "#000"}">{v:.2f}</td>' for v in m[i])
            + "</tr>"
            for i in range(m.shape[0])
        )
        out.append(
            f'<figure><table class="r2"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'
            f"<figcaption>R² matrix of <b>{_e(label)}</b> (mean over {len(mats)} seed{'s' if len(mats) > 1 else ''}; rows: latent "
            "groups, columns: causal variables; a good method is diagonal)</figcaption></figure>"
        )
    return out


def _graphs(groups: list[tuple[str, list[ResultRecord]]]) -> str | None:
    """The true graph, then each row's learned graph (edge frequency over seeds)."""
    true, names, items = None, None, []
    for label, rs in groups:
        for r in rs:
            if "graph_true" in r.artifacts and true is None:
                true = (np.asarray(r.artifacts["graph_true"], float) != 0).astype(float)
                names = r.artifacts.get("variables")
        if true is None:
            continue
        learned = [np.asarray(r.artifacts["graph_learned"], float) for r in rs if "graph_learned" in r.artifacts]
        learned = [(g != 0).astype(float) for g in learned if g.shape == true.shape]
        if learned:
            items.append((label, np.mean(learned, axis=0), len(learned)))
    if true is None:
        return None
    if not names or len(names) != len(true):
        names = [f"v{j}" for j in range(len(true))]
    n = 1 + len(items)
    ncol = min(n, 5)
    nrow = math.ceil(n / ncol)
    fig = _new_figure(2.4 * ncol, 2.5 * nrow)
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.3 / (2.5 * nrow), wspace=0.05, hspace=0.15)
    draw_graph(axes[0], true, None, names, "true graph")
    for ax, (label, g, ns) in zip(axes[1:], items):
        draw_graph(ax, true, g, names, f"{_short(label)} (n={ns})")
    for ax in axes[n:]:
        ax.set_axis_off()
    return _png(fig, tight=False)  # fixed limits, no ticks: no layout pass needed


def _grid(images: np.ndarray, min_side: int = 64, pad: int = 2) -> np.ndarray:
    """(R, C, H, W[, 3]) uint8 -> one (H', W', 3) image, nearest-upscaled to >= min_side."""
    if images.ndim == 4:
        images = np.repeat(images[..., None], 3, axis=-1)
    r, c, h, w, _ = images.shape
    s = max(1, math.ceil(min_side / max(1, min(h, w))))
    images = images.repeat(s, axis=2).repeat(s, axis=3)
    h, w = h * s, w * s
    out = np.full((r * (h + pad) + pad, c * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(r):
        for j in range(c):
            out[pad + i * (h + pad) : pad + i * (h + pad) + h, pad + j * (w + pad) : pad + j * (w + pad) + w] = images[i, j]
    return out


def _triplets(groups: list[tuple[str, list[ResultRecord]]]) -> list[str]:
    out = []
    for label, rs in groups:
        r = next((r for r in rs if "triplet_examples" in r.artifacts), None)
        if r is None:
            continue
        imgs = np.asarray(r.artifacts["triplet_examples"], dtype=np.uint8)
        panels = r.artifacts.get("triplet_examples_panels")
        cols = ", ".join(map(str, panels)) if panels and len(panels) == imgs.shape[1] else f"{imgs.shape[1]} panels"
        out.append(
            _figure(
                _png_array(_grid(imgs)),
                f"triplet examples of {label}",
                f"Triplet examples of <b>{_e(label)}</b> (seed {r.seed}); columns: {_e(cols)}",
            )
        )
    return out


def _dataset_sample(dataset_id: str, path: str | Path) -> str:
    """A figure of the first samples of a dataset file (images as a grid, vectors as a heatmap)."""
    from crlbench.datasets import load  # noqa: PLC0415

    try:
        ds = load(path)
    except Exception as e:  # noqa: BLE001 - a broken file must not take the whole page down
        return f'<p class="caption">{_e(dataset_id)}: cannot read {_e(path)} ({_e(e)})</p>'
    split = next((s for s in ("train", "test", *ds.splits) if s in ds.splits), None)
    if split is None:
        return f'<p class="caption">{_e(dataset_id)}: no splits</p>'
    obs = ds[split].observations
    n = min(len(obs), 6)
    x = np.asarray(obs[:n])
    note = f"spec hash {ds.spec.hash[:12]}, split {split}"
    if x.dtype == np.uint8 and x.shape[-1] == 3:
        # (N, H, W, 3) or (N, P, H, W, 3): rows = samples, columns = frames of a pair/triplet
        grid = x[None] if x.ndim == 4 else x
        b64 = _png_array(_grid(grid, min_side=48))
        cap = f"{n} samples of <b>{_e(dataset_id)}</b> ({_e(note)})"
    else:
        flat = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x[:, None]
        fig = _new_figure(min(1.5 + 0.25 * flat.shape[1], 10), 1.2 + 0.18 * len(flat))
        ax = fig.subplots()
        im = ax.imshow(flat, cmap="coolwarm", aspect="auto")
        ax.set_xlabel("observation dimension")
        ax.set_ylabel("sample" + (" x frame" if x.ndim > 2 else ""))
        fig.colorbar(im, ax=ax)
        b64 = _png(fig)
        cap = f"Observations of the first {n} samples of <b>{_e(dataset_id)}</b> (vectors; {_e(note)})"
    return _figure(b64, f"samples of {dataset_id}", cap)


# --- page ----------------------------------------------------------------------------------
def _table(t: pd.DataFrame) -> str:
    ms = [m for m in metric_names(t) if t[f"{m}_mean"].notna().any()]
    head = ['<th class="text" data-type="str">Method</th>', '<th class="text" data-type="str">Tier</th>', '<th data-type="num">Seeds</th>']
    for m in ms:
        arrow, better = ("↓", "lower") if lower_is_better(m) else ("↑", "higher")
        head.append(f'<th data-type="num" title="{better} is better; mean ± sample std over seeds">{_e(m)} {arrow}</th>')
    head += [
        '<th data-type="num" title="mean wall time per seed">time (s)</th>',
        '<th data-type="num">params</th>',
        '<th class="text" data-type="str">Marks</th>',
    ]
    body = []
    for _, row in t.iterrows():
        flags = [f for f in MARKS if bool(row[f])]
        mk = marks(row)
        tip = "; ".join(MARKS[f][1] for f in flags)
        extra = ""
        if row.get("origin") == "submitted":
            links = "".join(_link(row.get(k), k) for k in ("code", "paper"))
            extra = f' <span class="links">{links}</span>' if links else ""
            if row.get("external_data"):
                extra += ' <span class="external" title="trained with data beyond the track\'s">external data</span>'
        cells = [
            f'<td class="text">{_e(row["method"])} <span class="version">{_e(row["method_version"])}</span>{extra}</td>',
            f'<td class="text">{_e(row["tier"])}</td>',
            f'<td data-v="{int(row["n_seeds"])}">{int(row["n_seeds"])}</td>',
        ]
        for m in ms:
            mean = row[f"{m}_mean"]
            v = "" if pd.isna(mean) else repr(float(mean))
            cells.append(f'<td data-v="{v}">{_e(format_mean_std(mean, row[f"{m}_std"]))}</td>')
        cells += [
            f'<td data-v="{row["wall_time_s_mean"]!r}">{row["wall_time_s_mean"]:.1f}</td>',
            f'<td data-v="{int(row["n_parameters"])}">{int(row["n_parameters"]):,}</td>',
            f'<td class="text"><span class="marks" title="{_e(tip)}">{_e(mk)}</span></td>',
        ]
        body.append(f'<tr class="{" ".join(flags)}">' + "".join(cells) + "</tr>")
    return (
        '<div class="scroll"><table class="sortable"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></div>"
    )


def _deviation_list(t: pd.DataFrame) -> str:
    items = [f"<li>{_e(r['method'])} [{_e(r['tier'])}]: {_e(r['deviations'])}</li>" for _, r in t.iterrows() if r["deviated"]]
    return f'<p class="caption">Deviations from the protocol:</p><ul>{"".join(items)}</ul>' if items else ""


def render_html(
    records: Sequence[ResultRecord],
    df: pd.DataFrame,
    *,
    datasets: Mapping[str, str | Path] | None = None,
    title: str = "crlbench leaderboard",
) -> str:
    """The page for ``records`` and their aggregated table ``df`` (see :func:`build_site`)."""
    from matplotlib import rc_context  # noqa: PLC0415

    from crlbench import __version__  # noqa: PLC0415

    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    by_key: dict[tuple[str, str, str], list[ResultRecord]] = {}
    for r in records:
        by_key.setdefault((r.track, r.tier, r.method), []).append(r)
    tracks = list(dict.fromkeys(df["track"]))
    used = [f for f in MARKS if df[f].any()]
    legend = "; ".join(f'<span class="marks">{_e(MARKS[f][0])}</span> {_e(MARKS[f][1])}' for f in used)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    parts = [
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>\n{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(records)} result records, {len(tracks)} tracks; built {now} by crlbench '
        f"{_e(__version__)}. Cells: mean ± sample std over seeds (n/a: one seed). Click a header to sort.</p>",
        f'<p class="legend">Marks: {legend}</p>' if legend else "",
        "<nav><ul>"
        + "".join(f'<li><a href="#track-{i}">{_e(t)}</a></li>' for i, t in enumerate(tracks))
        + '<li><a href="#submit">How to submit a method</a></li></ul></nav>',
    ]
    with rc_context({"text.parse_math": False, "text.usetex": False}):
        for i, track in enumerate(tracks):
            t = df[df["track"] == track]
            groups = [
                (_row_label(row["method"], row["tier"], row["main_tier"]), by_key[(track, row["tier"], row["method"])])
                for _, row in t.iterrows()
            ]
            ids = sorted({r.dataset_id for _, rs in groups for r in rs})
            hashes = sorted({r.protocol_hash[:12] for _, rs in groups for r in rs})
            links = ", ".join(
                f'<a href="#dataset-{sorted(datasets).index(d)}">{_e(d)}</a>' if datasets and d in datasets else _e(d) for d in ids
            )
            parts.append(
                f'<section id="track-{i}"><h2>{_e(track)}</h2>'
                f'<p class="meta">main tier {_e(t["main_tier"].iloc[0])}; dataset {links}; '
                f"protocol {', '.join(f'<code>{_e(h)}</code>' for h in hashes)}</p>"
            )
            parts.append(_table(t))
            parts.append(_deviation_list(t))
            figs = []
            b = _per_variable_heatmaps(groups)
            if b:
                figs.append(
                    _figure(
                        b, f"per-variable R² of {track}", "Per-variable R² (mean over seeds; rows: methods, columns: causal variables)."
                    )
                )
            figs += _r2_matrices(groups)
            b = _graphs(groups)
            if b:
                figs.append(
                    _figure(
                        b,
                        f"graphs of {track}",
                        "Learned versus true graph: green = true edge found, red = spurious edge, dashed grey = missed edge; "
                        "width and opacity = fraction of seeds.",
                    )
                )
            figs += _triplets(groups)
            if figs:
                parts.append('<div class="figs">' + "".join(figs) + "</div>")
            parts.append("</section>")
        if datasets:
            parts.append('<section id="datasets"><h2>Datasets</h2><div class="figs">')
            for j, d in enumerate(sorted(datasets)):
                parts.append(f'<div id="dataset-{j}">' + _dataset_sample(d, datasets[d]) + "</div>")
            parts.append("</div></section>")
    parts.append(_HOW_TO_SUBMIT.format(mark=_e(MARKS["submitted"][0])))
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "\n".join(p for p in parts if p)


def build_site(
    records: Iterable[ResultRecord],
    out_dir: str | Path,
    *,
    datasets: Mapping[str, str | Path] | None = None,
    main_tier: MainTier = None,
    title: str = "crlbench leaderboard",
    submitted: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Write ``index.html``, ``results.md`` and ``results.csv`` under ``out_dir``.

    Args:
        records: Validated result records.
        out_dir: Site folder (created).
        datasets: Dataset id -> HDF5 file readable by :func:`crlbench.datasets.load`; each
            gets a figure of its first samples.
        main_tier: Track -> main tier (see :func:`crlbench.leaderboard.table.aggregate`).
        title: Page title.
        submitted: Method -> submission metadata (see
            :func:`crlbench.leaderboard.submit.merge`); those rows are marked as submitted.

    Returns:
        The aggregated table (as written to ``results.csv``).
    """
    records = list(records)
    df = aggregate(records, main_tier=main_tier, submitted=submitted)
    out = output_folder(out_dir, "site folder")
    to_csv(df, out / "results.csv")
    (out / "results.md").write_text(to_markdown(df, graphs=aggregate_graphs(records, main_tier=main_tier)), encoding="utf-8")
    page = render_html(records, df, datasets=datasets, title=title)
    (out / "index.html").write_text(page, encoding="utf-8")
    return df
