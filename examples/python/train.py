"""The seed's train.py on modelreg: a scikit-learn pipeline chosen by a
cross-validated grid search, registered with its scores and
hyperparameters under the next version.

    python examples/python/train.py --data fixtures/uci_sentiment_sentences.tsv --registry registry --model sentiment-sklearn
"""

import argparse
import csv

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

import modelreg


def load(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fixtures/uci_sentiment_sentences.tsv")
    parser.add_argument("--registry", default="registry")
    parser.add_argument("--model", default="sentiment-sklearn")
    parser.add_argument("--bump", default="minor", choices=["patch", "minor", "major"])
    args = parser.parse_args()

    texts, labels = load(args.data)
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, random_state=42, stratify=labels
    )
    pipeline = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=1000))])
    grid = {"tfidf__ngram_range": [(1, 1), (1, 2)], "clf__C": [1.0, 10.0]}
    search = GridSearchCV(pipeline, grid, cv=5, n_jobs=1).fit(x_train, y_train)

    registry = modelreg.Registry(args.registry, model=args.model)
    metadata = registry.save_model(
        model=search.best_estimator_,
        bump=args.bump,
        metadata={
            "hyperparameters": {k: str(v) for k, v in search.best_params_.items()},
            "cv_score": float(search.best_score_),
            "cv_std": float(search.cv_results_["std_test_score"][search.best_index_]),
            "test_score": float(search.best_estimator_.score(x_test, y_test)),
            "description": "TF-IDF + logistic regression (scikit-learn)",
            "data": args.data,
        },
    )
    print(f"saved {args.model} {metadata['version']}: test {metadata['test_score']:.4f}, cv {metadata['cv_score']:.4f}")


if __name__ == "__main__":
    main()
