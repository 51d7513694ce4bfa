"""Reading a release's ``.npz`` files, and the plan of one import.

Releases hold gigabytes of frames, so image arrays are read in row blocks straight from the
archive (stored or deflated members alike) and never loaded whole. Every check names the
file and the array it is about.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from crlbench.errors import CrlbenchError
from crlbench.simulators.base import Scene

__all__ = ["Member", "Npz", "Concat", "Rows", "Split", "Plan", "expect", "frames", "image_side", "scene", "checked", "sha256_file"]

ROWS = 256  # frames per block while streaming images


def _header(fp: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    major, _ = np.lib.format.read_magic(fp)
    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    return read(fp)


class Member:
    """One array of an ``.npz`` archive: shape and dtype from its header, rows on demand."""

    def __init__(self, path: Path, name: str, zf: zipfile.ZipFile) -> None:
        self.path, self.name, self._zf = path, name, zf
        with zf.open(f"{name}.npy") as fp:
            self.shape, self._fortran, self.dtype = _header(fp)
        if self.dtype.hasobject:
            raise CrlbenchError(f"{path}: array {name!r} holds Python objects; the release stores plain arrays")

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def read(self) -> np.ndarray:
        """The whole array (for the small ones: latents, flags, masks)."""
        with np.load(self.path, allow_pickle=False) as z:
            return z[self.name]

    def blocks(self, rows: int = ROWS) -> Iterator[np.ndarray]:
        """Consecutive blocks of at most ``rows`` rows."""
        if self._fortran:  # rows are not contiguous in the file: read it whole
            a = self.read()
            yield from (a[i : i + rows] for i in range(0, len(a), rows))
            return
        per = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        with self._zf.open(f"{self.name}.npy") as fp:
            _header(fp)
            for start in range(0, len(self), rows):
                n = min(rows, len(self) - start)
                buf = fp.read(n * per)
                if len(buf) != n * per:
                    raise CrlbenchError(f"{self.path}: array {self.name!r} ends before row {len(self)}; the file is truncated")
                yield np.frombuffer(buf, self.dtype).reshape(n, *self.shape[1:])


class Rows(Protocol):
    """What an image source offers: a length, a dtype, a shape and row blocks."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def __len__(self) -> int: ...

    def blocks(self, rows: int = ROWS) -> Iterator[np.ndarray]:
        """Yield the rows in order, ``rows`` at a time."""
        ...


class Concat:
    """The same array of several shard files, read as one."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self.shape = (sum(len(m) for m in members), *members[0].shape[1:])
        self.dtype = members[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def blocks(self, rows: int = ROWS) -> Iterator[np.ndarray]:
        """Yield the rows in order, ``rows`` at a time, member after member."""
        for m in self.members:
            yield from m.blocks(rows)


class Npz:
    """A release's ``.npz`` file: its arrays by name, with errors that name what is missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as e:
            raise CrlbenchError(f"{path}: not a NumPy .npz archive ({e}); the release's files are .npz") from None
        self.keys = sorted(n[:-4] for n in self._zf.namelist() if n.endswith(".npy"))

    def get(self, *names: str, required: bool = True) -> Member | None:
        """The first present of ``names`` (a name and its aliases)."""
        for n in names:
            if n in self.keys:
                return Member(self.path, n, self._zf)
        if not required:
            return None
        alias = f" (or {' / '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        raise CrlbenchError(f"{self.path}: array {names[0]!r}{alias} is missing; the file has {', '.join(self.keys) or 'no arrays'}")

    def need(self, *names: str) -> Member:
        """:meth:`get` of an array every file of the release holds."""
        m = self.get(*names)
        assert m is not None
        return m


def expect(m: Member, shape: tuple[int | None, ...], kinds: str, what: str) -> None:
    """Shape (``None``: any size) and dtype kind of a release array, or an error naming it."""
    ok = len(m.shape) == len(shape) and all(s is None or s == t for s, t in zip(shape, m.shape))
    if not ok or m.dtype.kind not in kinds:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise CrlbenchError(f"{m.path}: array {m.name!r} has shape {m.shape} and dtype {m.dtype}; the release has {want} {what}")


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


# --- images -------------------------------------------------------------------------------


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _frame(raw: Any, side: int) -> np.ndarray:
    """One frame (encoded bytes, or (H, W, 3|4) uint8) as (side, side, 3) uint8.

    Shrinking averages areas (a box filter); RGBA loses its alpha channel.
    """
    frame = _decode(bytes(raw)) if isinstance(raw, bytes) else np.ascontiguousarray(raw[..., :3])
    if frame.shape[0] != frame.shape[1]:
        raise CrlbenchError(f"a frame of {frame.shape[1]} x {frame.shape[0]} pixels; the releases' frames are square")
    if frame.shape[0] == side:
        return frame
    from PIL import Image  # noqa: PLC0415

    return np.asarray(Image.fromarray(frame).resize((side, side), Image.Resampling.BOX))


def frames(source: Rows, side: int) -> Iterator[np.ndarray]:
    """Row blocks of an image source as uint8 (rows, [2|3,] side, side, 3).

    A source holds either encoded frames (one ``bytes`` per frame: JPEG, PNG) or pixels
    (..., H, W, 3|4).
    """
    for block in source.blocks():
        lead = block.shape if block.dtype.kind == "S" else block.shape[:-3]
        flat = block.reshape(-1) if block.dtype.kind == "S" else block.reshape(-1, *block.shape[-3:])
        yield np.stack([_frame(f, side) for f in flat]).reshape(*lead, side, side, 3)


def image_side(source: Rows) -> int:
    """The side in pixels of a source's frames (decodes the first one if encoded)."""
    if source.dtype.kind == "S":
        return int(_decode(bytes(next(source.blocks(1)).reshape(-1)[0])).shape[0])
    return int(source.shape[-3])


# --- the plan of one import ---------------------------------------------------------------


@dataclass
class Split:
    """One crlbench split: its small arrays, and the image source to stream.

    Args:
        arrays: ``latents``, ``targets``, ``noise``, ``mask`` as stored.
        images: Where the frames come from, in storage order.
        prefix: Leading shape of the stored images, e.g. ``(N, 2)`` for pairs.
        take: Selects the stored frames of each block (e.g. the first of every pair).
    """

    arrays: dict[str, np.ndarray]
    images: Rows
    prefix: tuple[int, ...]
    take: Callable[[np.ndarray], np.ndarray] = lambda block: block


@dataclass
class Plan:
    """What a release reader found: the crlbench scene, the splits and the input files.

    Args:
        scene: The crlbench scene whose variables and graph the file gets.
        params: The spec's scene parameters.
        native: The release's image side in pixels.
        options: The reader's options as used (recorded in the file).
    """

    scene: Scene
    params: dict[str, Any]
    mode: str
    splits: dict[str, Split]
    files: list[Path]
    native: int
    options: dict[str, Any] = field(default_factory=dict)


def scene(name: str, params: Mapping[str, Any]) -> Scene:
    """The registered scene ``name`` (image scenes have a fixed structure)."""
    from crlbench.registry import scene_class  # noqa: PLC0415

    return scene_class(name)(dict(params), np.random.default_rng(0))


def checked(s: Scene, z: np.ndarray, where: str) -> np.ndarray:
    """``z`` (..., D) if every state lies in ``s``'s supports; else an error naming ``where``."""
    from crlbench.simulators.render import check_states  # noqa: PLC0415

    try:
        check_states(s, z.reshape(-1, z.shape[-1]))
    except CrlbenchError as e:
        raise CrlbenchError(f"{where}: {e}") from None
    return z
