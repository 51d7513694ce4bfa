"""Is a local file intact, and is it the canonical dataset of its spec?

Two levels:

* *integrity* (always): every array's sha256 against the manifest written with the file,
  and the spec hash against the stored spec;
* *regeneration* (``regenerate=True``): phase 1 of the builder is rerun from the stored
  spec and must reproduce latents, targets, noise and masks bit for bit; vector
  observations are recomputed in full, and a sample of image frames is re-rendered and must
  match within ``tolerance`` grey levels (renderers are not bit-stable across machines).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from crlbench.datasets import importers, storage
from crlbench.datasets.build import make_scene, render_seeds, sample_split
from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError

__all__ = ["Check", "VerifyReport", "verify", "integrity_checks"]


@dataclass(frozen=True)
class Check:
    """One array's verdict: ``ok``, ``within tolerance``, ``differs``, ``missing`` or ``extra``."""

    key: str
    status: str
    detail: str = ""


@dataclass
class VerifyReport:
    path: Path
    dataset_id: str
    spec_hash: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed, exactly or within its tolerance."""
        return all(c.status in ("ok", "within tolerance") for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that did not pass."""
        return [c for c in self.checks if c.status not in ("ok", "within tolerance")]


def verify(path: str | Path, *, regenerate: bool = False, frames: int = 16, tolerance: float = 2.0) -> VerifyReport:
    """Check a dataset file; see the module docstring.

    Args:
        frames: Image frames re-rendered per split when regenerating.
        tolerance: Largest mean absolute difference, in grey levels, for a re-rendered frame.
    """
    if not (isinstance(frames, int) and frames >= 1):
        raise CrlbenchError(f"frames must be an integer >= 1 (image frames re-rendered per split), got {frames!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise CrlbenchError(f"tolerance must be a finite number >= 0 (grey levels), got {tolerance!r}")
    path = Path(path)
    with storage.open_file(path) as f:
        spec = storage.read_spec(f)
        manifest: dict[str, str] = json.loads(str(f.attrs["manifest"]))
        report = VerifyReport(path, spec.dataset_id, spec.hash)
        report.checks.extend(integrity_checks(f, spec))
        if regenerate and importers.is_imported(f):  # imported from a release: re-hash its inputs
            report.checks.extend(Check(*c) for c in importers.check_sources(f))
        elif regenerate:
            report.checks.extend(_regenerate(f, spec, manifest, frames, tolerance))
    return report


def integrity_checks(f: h5py.File, spec: DatasetSpec) -> list[Check]:
    """The file against itself and ``spec``: spec hash, split sizes, every array's sha256.

    Args:
        f: An open, complete dataset file.
        spec: The spec the file should hold (its stored one, or the one a caller expects).
    """
    checks = []
    if f.attrs["spec_hash"] != spec.hash or str(f.attrs["spec"]) != spec.to_json():
        checks.append(Check("spec", "differs", f"stored spec is not {spec.dataset_id} spec {spec.hash[:12]}"))
    manifest: dict[str, str] = json.loads(str(f.attrs.get("manifest", "{}")))
    present = dict(storage.iter_arrays(f))
    for split in sorted(set(spec.splits) - {key.split("/")[0] for key in present}):
        checks.append(Check(split, "missing", "split of the spec not in the file"))
    for key in sorted(set(manifest) | set(present)):
        if key not in present:
            checks.append(Check(key, "missing", "in the manifest but not in the file"))
        elif key not in manifest:
            checks.append(Check(key, "extra", "in the file but not in the manifest"))
        elif len(present[key]) != spec.splits.get(key.split("/")[0], -1):
            checks.append(Check(key, "differs", f"{len(present[key])} rows, the spec says {spec.splits.get(key.split('/')[0])}"))
        else:
            same = storage.array_sha256(present[key]) == manifest[key]
            checks.append(Check(key, "ok" if same else "differs", "" if same else "sha256 differs from the manifest"))
    return checks


def _regenerate(f, spec, manifest, frames: int, tolerance: float) -> list[Check]:
    scene = make_scene(spec)
    obs = scene.observation.at(spec.resolution)
    out = []
    with scene.renderer(spec.resolution, spec.render or None) as render:
        for split in spec.splits:
            sl = sample_split(scene, spec, split)
            for name, a in sl.arrays.items():
                key = f"{split}/{name}"
                same = storage.array_sha256(a) == manifest.get(key)
                out.append(
                    Check(f"regenerated {key}", "ok" if same else "differs", "" if same else "not bit-identical to the stored array")
                )
            key = f"{split}/{obs.dataset_name}"
            if key not in f or len(sl.frames) == 0:
                continue
            stored = f[key]
            n = len(sl.frames)
            pick = np.arange(n) if obs.kind == "vector" else np.unique(np.linspace(0, n - 1, min(frames, n)).astype(int))
            new = render(sl.frames[pick], render_seeds(spec, split, n)[pick])
            if obs.kind == "vector":
                old = stored[()].reshape(n, *obs.shape)
            else:  # frame i of the flattened storage order sits at unravel_index(i, prefix)
                old = np.stack([stored[tuple(int(j) for j in np.unravel_index(i, sl.prefix))] for i in pick])
            diff = np.abs(new.astype(np.float64) - old.astype(np.float64))
            if np.array_equal(new, old):
                out.append(Check(f"regenerated {key}", "ok", f"{len(pick)} frames identical"))
            elif obs.kind == "image" and diff.reshape(len(pick), -1).mean(axis=1).max() <= tolerance:
                out.append(
                    Check(
                        f"regenerated {key}",
                        "within tolerance",
                        f"max per-frame mean |diff| {diff.reshape(len(pick), -1).mean(axis=1).max():.3f} <= {tolerance}",
                    )
                )
            elif obs.kind == "vector" and np.allclose(new, old, rtol=1e-12, atol=1e-12):
                out.append(Check(f"regenerated {key}", "within tolerance", f"max |diff| {diff.max():.2e} (floating-point)"))
            else:
                out.append(Check(f"regenerated {key}", "differs", f"max |diff| {diff.max():.3g}"))
    return out
