"""Linear heads: they learn what is learnable, and survive the trip through JSON."""

import json
from pathlib import Path

import numpy as np

from streams.comments.heads import QUANTISED_ROWS, Head, Heads, fit, load_heads, read_emotions
from streams.comments.labels import EMOTIONS, SENTIMENTS
from streams.comments.lexical import SparseRows


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


def test_emotions_are_read_within_the_sentiment() -> None:
    """A sure sentiment overrules an emotion it does not carry; an unsure one lets the
    emotion head decide among the sentiments it spreads over."""
    emotion = np.zeros((3, len(EMOTIONS)))
    emotion[:, EMOTIONS.index("anger")] = 0.6
    emotion[:, EMOTIONS.index("satisfaction")] = 0.3
    emotion[:, EMOTIONS.index("neutral")] = 0.1
    sentiment = np.array([[0.02, 0.03, 0.95], [0.5, 0.0, 0.5], [0.0, 0.9, 0.1]])
    read = [EMOTIONS[i] for i in read_emotions(sentiment, emotion, SENTIMENTS, EMOTIONS)]
    assert read == ["satisfaction", "anger", "neutral"]


def test_the_view_travels_with_the_heads(tmp_path: Path) -> None:
    vectors, targets = _blobs()
    weights, bias = fit(vectors, targets, multi_label=False, steps=20)
    head = Head(("a", "b", "c"), weights, bias)
    Heads(head, head, head, {}, "passage").dump(tmp_path / "heads.json")
    assert load_heads(tmp_path / "heads.json").view == "passage"
    older = json.loads((tmp_path / "heads.json").read_text())
    del older["view"]  # files written before views were recorded read the query view
    (tmp_path / "heads.json").write_text(json.dumps(older))
    assert load_heads(tmp_path / "heads.json").view == "query"


def test_lexical_heads_are_mixed_in_and_survive_the_trip_through_json(tmp_path: Path) -> None:
    vectors, targets = _blobs()
    texts = [("great " if label == 2 else "awful ") + str(row % 7)
             for row, label in enumerate(targets.argmax(axis=1))]
    weights, bias = fit(vectors, targets, multi_label=False, steps=50)
    head = Head(("a", "b", "c"), weights, bias)
    words = SparseRows(texts, 8192)
    lexical = Head(("a", "b", "c"), *fit(words, targets, multi_label=False, steps=50))
    assert len(lexical.weights) > QUANTISED_ROWS
    heads = Heads(head, head, head, {}, "passage", {"sentiment": lexical}, {"sentiment": 0.3})
    mixed, emotion, _ = heads.read(vectors, texts)
    expected = head.activate(0.7 * head.logits(vectors) + 0.3 * lexical.logits(words))
    assert np.allclose(mixed, expected) and np.allclose(emotion, head.probabilities(vectors))
    heads.dump(tmp_path / "heads.json")
    loaded = load_heads(tmp_path / "heads.json")
    assert loaded.mix == {"sentiment": 0.3} and set(loaded.lexical) == {"sentiment"}
    # 8-bit weights: within half a step of the largest weight of each label
    step = np.abs(lexical.weights).max(axis=0) / 127
    assert (np.abs(loaded.lexical["sentiment"].weights - lexical.weights) <= step / 2 + 1e-6).all()
    assert np.allclose(loaded.read(vectors, texts)[0], mixed, atol=0.02)
    # no letter, nothing for the words to say: the vector's reading alone
    alone = heads.read(vectors[:2], ["👎", "!!"])[0]
    assert np.allclose(alone, head.probabilities(vectors[:2]))
