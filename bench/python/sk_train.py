"""The scikit-learn workflow people would otherwise write: TF-IDF + logistic
regression or multinomial NB, GridSearchCV with 5 folds, 80/20 stratified
split (modelreg's own, so test scores compare), seed 42; the winner saved
with joblib. Prints one JSON line."""
import argparse, json, sys, time

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline


MASK = (1 << 64) - 1


def modelreg_split(labels, test_size=0.2, seed=42):
    """The train/test split textclf::stratified_split makes (splitmix64,
    per-class Fisher-Yates, round half up), so both sides are scored on
    the same held-out rows."""
    state = seed

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    train, test = [], []
    for label in sorted(set(labels)):
        rows = [i for i, l in enumerate(labels) if l == label]
        for i in range(len(rows) - 1, 0, -1):
            j = nxt() % (i + 1)
            rows[i], rows[j] = rows[j], rows[i]
        n_test = min(int(len(rows) * test_size + 0.5), len(rows) - 1)
        test += rows[:n_test]
        train += rows[n_test:]
    return sorted(train), sorted(test)


def load(path):
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f][1:]
    return [r[1] for r in rows], np.array([r[0] for r in rows])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    start = time.perf_counter()
    texts, labels = load(a.data)
    train, test_rows = modelreg_split(list(labels))
    x_train, y_train = [texts[i] for i in train], labels[train]
    x_test, y_test = [texts[i] for i in test_rows], labels[test_rows]
    pipe = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=1000))])
    grid = [
        {"tfidf__ngram_range": [(1, 1), (1, 2)], "tfidf__min_df": [1, 2],
         "clf": [LogisticRegression(max_iter=1000)], "clf__C": [0.1, 1, 10]},
        {"tfidf__ngram_range": [(1, 1), (1, 2)], "tfidf__min_df": [1, 2],
         "clf": [MultinomialNB()], "clf__alpha": [0.1, 0.5, 1.0]},
    ]
    search = GridSearchCV(pipe, grid, cv=5, n_jobs=a.jobs).fit(x_train, y_train)
    test = search.score(x_test, y_test)
    joblib.dump(search.best_estimator_, a.out)
    print(json.dumps({"seconds": time.perf_counter() - start, "cv_score": search.best_score_,
                      "test_score": test, "best": str(search.best_params_)}))


if __name__ == "__main__":
    sys.exit(main())
