"""The seed's predict.py on modelreg: load the latest version (or a given
version or alias) and classify sentences.

    python examples/python/predict.py --registry registry --model sentiment-sklearn "What a great film"
"""

import argparse

import modelreg


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="+")
    parser.add_argument("--registry", default="registry")
    parser.add_argument("--model", default="sentiment-sklearn")
    parser.add_argument("--target", default="latest", help="a version, an alias, or models:/NAME@ALIAS")
    args = parser.parse_args()

    registry = modelreg.Registry(args.registry, model=args.model)
    model, metadata = registry.load(args.target)
    probabilities = model.predict_proba(args.texts)
    for text, row in zip(args.texts, probabilities):
        best = max(range(len(row)), key=row.__getitem__)
        print(f"{model.classes_[best]}\t{row[best]:.4f}\t{text}")
    print(f"(version {metadata['version']}, test score {metadata.get('test_score')})")


if __name__ == "__main__":
    main()
