"""The lexical view: spelling variants meet, hashed rows multiply like the dense matrix they
stand for, and a head over them learns idioms the words carry."""

from __future__ import annotations

import numpy as np

from streams.comments.heads import Head, fit
from streams.comments.lexical import SparseRows, features, normalise


def test_spelling_variants_are_one_word() -> None:
    assert normalise("Très BIEN, sooooo nice") == "tres bien, soo nice"
    assert normalise("مُمْتَاز") == normalise("ممتاز")  # vowel marks
    assert normalise("أنا إلى") == normalise("انا الي")  # alef and yaa variants
    assert features("pas mal") == features("Pas  MAL")
    grams = features("nickel")
    assert grams["w nickel"] == 1 and grams["<ni"] == 1 and grams["kel>"] == 1
    assert grams["b pas mal"] == 0 and features("pas mal")["b pas mal"] == 1


def test_sparse_rows_multiply_like_the_dense_matrix() -> None:
    texts = ["pas mal du tout", "", "😡😡", "nichts zu meckern", "pas mal"]
    rows = SparseRows(texts, 64)
    dense = np.zeros(rows.shape)
    np.add.at(dense, (rows.rows, rows.columns), rows.values)
    assert rows.shape == (5, 64) and np.count_nonzero(dense[1]) == 1  # "^ $": said nothing
    assert np.allclose(np.linalg.norm(dense, axis=1), 1)
    weights, errors = np.random.default_rng(1).normal(size=(64, 3)), np.ones((5, 3))
    assert np.allclose(rows @ weights, dense @ weights)
    assert np.allclose(rows.T @ errors, dense.T @ errors)


def test_a_head_over_words_learns_an_idiom() -> None:
    """"pas mal" is praise although "mal" alone is not: the word pair carries it."""
    praise = ["pas mal du tout", "vraiment pas mal", "pas mal ce produit", "franchement pas mal"]
    blame = ["mal emballé", "très mal fait", "mal livré", "service mal organisé"]
    rows = SparseRows(praise + blame)
    targets = np.eye(2)[[1] * 4 + [0] * 4]
    weights, bias = fit(rows, targets, multi_label=False, l2=1e-4, steps=200)
    head = Head(("negative", "positive"), weights, bias)
    guess = head.probabilities(SparseRows(["pas mal", "mal fait"])).argmax(axis=1)
    assert guess.tolist() == [1, 0]
