"""``cxpulse comments report``: per language and class, confusion matrices, several files,
JSON, and a clear error for a set that is not there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streams.comments.labels import EMOTIONS, SENTIMENTS

CXPULSE = Path(sys.executable).with_name("cxpulse")

FR = [{"comment": "Livraison rapide, produit parfait, merci !", "locale": "fr-FR",
       "language": "fr", "sentiment": "positive", "emotion": "delight",
       "themes": ["delivery", "product_quality"]},
      {"comment": "Colis jamais arrivé et le service client ne répond pas.", "locale": "fr-FR",
       "language": "fr", "sentiment": "negative", "emotion": "anger",
       "themes": ["delivery", "customer_service"]}]
DE = [{"comment": "Paket nie angekommen, Support antwortet nicht.", "locale": None,
       "language": "de", "sentiment": "negative", "emotion": "frustration",
       "themes": ["delivery", "customer_service"]}]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def _report(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CXPULSE), "comments", "report", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_report_measures_several_files_together(tmp_path: Path) -> None:
    fr, de = _write(tmp_path / "fr.jsonl", FR), _write(tmp_path / "de.jsonl", DE)
    done = _report(str(fr), str(de), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["sets"] == [{"file": str(fr), "n": 2}, {"file": str(de), "n": 1}]
    assert list(data["languages"]) == ["de", "fr", "all"] and data["languages"]["all"]["n"] == 3
    matrix = data["sentiment"]["confusion"]["all"]
    assert len(matrix) == len(SENTIMENTS) and sum(map(sum, matrix)) == 3
    assert sum(matrix[SENTIMENTS.index("negative")]) == 2  # rows are the truth
    assert len(data["emotion"]["confusion"]["fr"]) == len(EMOTIONS)
    assert data["sentiment"]["classes"]["fr"]["positive"]["support"] == 1
    assert data["themes"]["classes"]["delivery"]["support"] == 3

    text = _report(str(fr), str(de), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"set: {fr} (2 comments) + {de} (1 comments)")
    for part in ("sentiment per language and class", "emotion (all)", "themes (all)",
                 "sentiment confusion (all)", "emotion confusion (all)"):
        assert part in text.stdout


def test_a_missing_or_bad_set_is_a_clear_error(tmp_path: Path) -> None:
    missing = _report(str(tmp_path / "absent.jsonl"), cwd=tmp_path)
    assert missing.returncode != 0 and "no such labelled set" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = _write(tmp_path / "bad.jsonl", [{"comment": "x", "language": "xx",
                                           "sentiment": "positive", "emotion": "delight"}])
    wrong = _report(str(bad), cwd=tmp_path)
    assert wrong.returncode != 0 and "bad.jsonl:1" in wrong.stderr
    assert "Traceback" not in wrong.stderr
