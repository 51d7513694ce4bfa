"""Headless OpenGL for MuJoCo: pick a working backend before ``mujoco`` is imported.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, so the choice must be
made before that. :func:`ensure_backend` keeps a ``MUJOCO_GL`` the user has set; otherwise
it tries EGL, then OSMesa, each in a short-lived subprocess (a failed GL start can leave
PyOpenGL bound to the wrong platform in-process, and some drivers abort rather than
raise), and exports the first that renders a frame. Worker processes (``spawn``) inherit
the exported variable and skip the probe.

When none works it raises :class:`GLBackendError` naming the Debian packages to install:
``MUJOCO_GL=egl`` needs ``libegl1`` and ``libgl1``; ``MUJOCO_GL=osmesa`` needs
``libosmesa6``.

Software rendering (Mesa llvmpipe) is single-threaded per process here: crlbench renders
small frames in many worker processes, where llvmpipe's own threads only add overhead, so
``LP_NUM_THREADS=1`` is set unless the user set it.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

from crlbench.errors import CrlbenchError

__all__ = [
    "BACKENDS",
    "PACKAGES",
    "GLBackendError",
    "ensure_backend",
    "probe",
    "context_class",
    "backend_error",
]

#: Backends tried, in order.
BACKENDS: tuple[str, ...] = ("egl", "osmesa")

#: Debian packages each backend needs on a fresh machine.
PACKAGES: dict[str, tuple[str, ...]] = {"egl": ("libegl1", "libgl1"), "osmesa": ("libosmesa6",)}

#: Shared library each backend loads (a quick check before the subprocess probe).
_LIBRARIES: dict[str, str] = {"egl": "EGL", "osmesa": "OSMesa"}

_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string(
    '<mujoco><worldbody><light pos="0 0 1"/><geom type="sphere" size=".1"/></worldbody></mujoco>')
d = mujoco.MjData(m)
mujoco.mj_forward(m, d)
with mujoco.Renderer(m, 8, 8) as r:
    r.update_scene(d)
    r.render()
print("ok")
"""

_chosen: str | None = None


class GLBackendError(CrlbenchError):
    """No headless OpenGL backend works on this machine."""


def probe(backend: str, timeout: float = 120.0) -> tuple[bool, str]:
    """Whether MuJoCo renders one frame with ``MUJOCO_GL=backend``, in a subprocess.

    Returns:
        ``(ok, detail)``: ``detail`` is the last line of the error output on failure.
    """
    if ctypes.util.find_library(_LIBRARIES[backend]) is None:
        return False, f"lib{_LIBRARIES[backend]} not found"
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        res = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    if res.returncode == 0 and res.stdout.strip().endswith("ok"):
        return True, ""
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    return False, lines[-1] if lines else f"exit status {res.returncode}"


def _error(details: dict[str, str]) -> GLBackendError:
    tried = "; ".join(f"{b}: {why}" for b, why in details.items())
    pkgs = " ".join(p for b in BACKENDS for p in PACKAGES[b])
    return GLBackendError(
        "no headless OpenGL backend works for MuJoCo rendering "
        f"(tried {tried}). On Debian/Ubuntu install them with "
        f"`apt-get install {pkgs}` (MUJOCO_GL=egl needs {' and '.join(PACKAGES['egl'])}; "
        f"MUJOCO_GL=osmesa needs {' and '.join(PACKAGES['osmesa'])}), "
        "or set MUJOCO_GL to a backend that works here."
    )


def ensure_backend() -> str:
    """Export a working ``MUJOCO_GL`` (and ``LP_NUM_THREADS=1``) and return the backend.

    Best called before ``import mujoco``; if ``mujoco`` was imported first, the chosen
    backend still works through :func:`context_class`. A ``MUJOCO_GL`` set by the user is
    kept untested (its failure surfaces when the renderer starts).

    Raises:
        GLBackendError: no backend renders a frame; the message names the packages.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    os.environ.setdefault("LP_NUM_THREADS", "1")
    current = os.environ.get("MUJOCO_GL", "").strip().lower()
    if current:
        _chosen = current
        return _chosen
    details: dict[str, str] = {}
    for backend in BACKENDS:
        ok, why = probe(backend)
        if ok:
            os.environ["MUJOCO_GL"] = backend
            if "OpenGL" not in sys.modules:  # PyOpenGL binds its platform on first import
                os.environ["PYOPENGL_PLATFORM"] = backend
            _chosen = backend
            return backend
        details[backend] = why
    raise _error(details)


def context_class(backend: str) -> type:
    """MuJoCo's ``GLContext`` class for ``backend``, whatever ``mujoco`` chose on import."""
    if backend == "egl":
        from mujoco.egl import GLContext  # noqa: PLC0415
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext  # noqa: PLC0415
    else:
        from mujoco import GLContext  # noqa: PLC0415
    return GLContext


def backend_error(backend: str, cause: BaseException) -> GLBackendError:
    """The error for a backend that fails when MuJoCo starts (e.g. one the user forced)."""
    need = PACKAGES.get(backend)
    hint = (
        f"MUJOCO_GL={backend} needs the Debian package(s) {' and '.join(need)}"
        if need
        else "use MUJOCO_GL=egl (Debian packages libegl1 and libgl1) or MUJOCO_GL=osmesa (libosmesa6)"
    )
    return GLBackendError(
        f"cannot start MuJoCo's offscreen renderer with MUJOCO_GL={backend!r}: "
        f"{type(cause).__name__}: {cause}. {hint}; or unset MUJOCO_GL to let crlbench pick a "
        "working backend."
    )
