"""modelreg.TextClassifier: scikit-learn's names on the trainer's search."""

import pickle
import threading
import time

import pytest

import modelreg
from conftest import read_tsv

WORDS_ONLY = [{"classifier": {"type": "nb_logistic_regression", "alpha": [1.0], "c": [1.0]}}]


@pytest.fixture(scope="module")
def fitted():
    texts, labels = read_tsv("uci_sentiment_sentences.tsv")
    return modelreg.TextClassifier().fit(texts, labels)


def test_predict_and_probabilities(fitted):
    assert fitted.classes_ == ["negative", "positive"]
    labels = fitted.predict(["I love it", "I hate it"])
    assert labels == ["positive", "negative"]
    proba = fitted.predict_proba(["I love it", "I hate it"])
    assert len(proba) == 2 and all(abs(sum(row) - 1.0) < 1e-9 for row in proba)
    assert proba[0][1] > 0.5 > proba[1][1]
    assert 0.7 < fitted.test_score_ <= 1.0 and 0.7 < fitted.best_score_ <= 1.0
    assert len(fitted.cv_results_) > 1 and fitted.n_features_ > 0


def test_same_seed_same_model():
    texts, labels = read_tsv("uci_sentiment_sentences.tsv", limit=800)
    a = modelreg.TextClassifier().fit(texts, labels, folds=3, seed=7)
    b = modelreg.TextClassifier().fit(texts, labels, folds=3, seed=7)
    assert a.to_bytes() == b.to_bytes()


def test_search_options_reach_the_trainers_search():
    texts, labels = read_tsv("rotten_tomatoes_snippets.tsv")
    halved = modelreg.TextClassifier().fit(texts, labels, search="halving")
    full = modelreg.TextClassifier().fit(texts, labels, search="full")
    # Halving keeps the best 6 of 17 after the first round; on this data it
    # picks the same winner as the full grid.
    assert sum(1 for r in halved.cv_results_ if r["rows"] == len(texts) * 4 // 5) == 6
    assert halved.to_bytes() == full.to_bytes()


def test_pickle_and_bytes_round_trip(fitted):
    copy = pickle.loads(pickle.dumps(fitted))
    assert copy.to_bytes() == fitted.to_bytes()
    again = modelreg.TextClassifier.from_bytes(fitted.to_bytes())
    assert again.predict(["fine"]) == fitted.predict(["fine"])
    with pytest.raises(modelreg.IntegrityError):
        modelreg.TextClassifier.from_bytes(b"\x00not a model")


def test_prediction_releases_the_gil(fitted):
    """Another Python thread runs while a long prediction is in Rust."""
    texts = ["a fine and moving film, if a little long"] * 200_000
    done = threading.Event()
    ticks = 0

    def predict():
        fitted.predict(texts)
        done.set()

    worker = threading.Thread(target=predict)
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.0005)
    worker.join()
    assert ticks > 5, "the main thread did not run while predict() worked"


def test_integer_labels_come_back_as_integers_ordered_as_numbers(tmp_path):
    # As scikit-learn: fit on ints, get ints back, classes_ in numeric order
    # (10 after 2, which a string sort would not give), also after a pickle
    # and through the registry.
    import pickle

    texts, labels = read_tsv("uci_sentiment_sentences.tsv", limit=600)
    numbers = [10 if label == "positive" else 2 for label in labels]
    clf = modelreg.TextClassifier().fit(texts, numbers, grid=WORDS_ONLY, folds=3)
    assert clf.classes_ == [2, 10]
    predicted = clf.predict(["I love it", "I hate it"])
    assert predicted == [10, 2] and all(type(p) is int for p in predicted)
    proba = clf.predict_proba(["I love it", "I hate it"])
    assert [clf.classes_[row.index(max(row))] for row in proba] == predicted

    # The same model on string labels: the same choices, as strings.
    words = modelreg.TextClassifier().fit(texts, [str(n) for n in numbers], grid=WORDS_ONLY, folds=3)
    assert words.classes_ == ["10", "2"]
    assert words.predict(["I love it", "I hate it"]) == ["10", "2"]

    again = pickle.loads(pickle.dumps(clf))
    assert again.classes_ == [2, 10] and again.predict(["I love it"]) == [10]

    reg = modelreg.Registry(str(tmp_path / "registry"))
    reg.save_model("1.0.0", clf)
    loaded, metadata = reg.get_model("1.0.0")
    assert loaded.classes_ == [2, 10] and loaded.predict(["I hate it"]) == [2]
    assert metadata["tags"]["modelreg.labels"] == "int"


def test_mixed_or_boolean_labels_are_refused_by_position():
    texts = ["good", "bad", "fine"]
    with pytest.raises(modelreg.InvalidInput, match=r"labels\[2\] is a str, but labels\[0\] is an integer"):
        modelreg.TextClassifier().fit(texts, [1, 0, "1"])
    with pytest.raises(modelreg.InvalidInput, match=r"labels\[0\] is a bool"):
        modelreg.TextClassifier().fit(texts, [True, False, True])
