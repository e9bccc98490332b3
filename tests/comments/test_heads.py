"""Linear heads: they learn what is learnable, and survive the trip through JSON."""

from pathlib import Path

import numpy as np

from streams.comments.heads import Head, Heads, fit, load_heads


def _blobs(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (3, 16))
    labels = rng.integers(0, 3, 300)
    return centres[labels] + rng.normal(0, 0.3, (300, 16)), np.eye(3)[labels]


def test_softmax_head_separates_separable_classes() -> None:
    vectors, targets = _blobs()
    weights, bias = fit(vectors, targets, multi_label=False)
    guess = Head(("a", "b", "c"), weights, bias).probabilities(vectors).argmax(axis=1)
    assert (guess == targets.argmax(axis=1)).mean() > 0.98


def test_sigmoid_head_keeps_labels_independent() -> None:
    vectors, targets = _blobs()
    both = np.c_[targets[:, 0], targets[:, 0] + targets[:, 1]]  # a, and "a or b"
    weights, bias = fit(vectors, both, multi_label=True)
    picked = Head(("a", "ab"), weights, bias, True).probabilities(vectors) >= 0.5
    assert (picked == both.astype(bool)).mean() > 0.97
    assert picked[targets[:, 0] == 1].all()  # both labels at once where both hold


def test_probabilities_are_distributions() -> None:
    vectors, targets = _blobs()
    weights, bias = fit(vectors, targets, multi_label=False, steps=50)
    p = Head(("a", "b", "c"), weights, bias).probabilities(vectors)
    assert np.allclose(p.sum(axis=1), 1) and (p >= 0).all()


def test_heads_round_trip_through_json(tmp_path: Path) -> None:
    vectors, targets = _blobs()
    weights, bias = fit(vectors, targets, multi_label=False, steps=50)
    head = Head(("a", "b", "c"), weights, bias)
    themes = Head(("x", "y", "z"), weights, bias, True, np.array([0.3, 0.5, 0.7]))
    path = tmp_path / "heads.json"
    Heads(head, head, themes, {"note": "ü"}).dump(path)
    loaded = load_heads(path)
    assert loaded.about == {"note": "ü"} and loaded.themes.thresholds is not None
    assert np.allclose(loaded.sentiment.probabilities(vectors), head.probabilities(vectors),
                       atol=1e-4)
    assert loaded.themes.multi_label and list(loaded.themes.thresholds) == [0.3, 0.5, 0.7]


def test_missing_heads_file_says_how_to_make_it(tmp_path: Path) -> None:
    try:
        load_heads(tmp_path / "absent.json")
    except FileNotFoundError as error:
        assert "streams.comments.train" in str(error)
    else:
        raise AssertionError("no error")
