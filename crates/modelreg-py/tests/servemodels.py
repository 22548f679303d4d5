"""Model classes the serving tests pickle: importable by the server, which
runs with this directory on PYTHONPATH."""

import os


class Echo:
    """Gives each text back upper-cased: no classes_, so served by /v2 and
    /invocations only. Notes each batch's size in ``log`` when given."""

    def __init__(self, suffix="", log=None):
        self.suffix = suffix
        self.log = log

    def predict(self, texts):
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{len(texts)}\n")
        return [t.upper() + self.suffix for t in texts]


class Moody:
    """A classifier that raises on some texts: ValueError (the input's
    fault) on "bad", RuntimeError (its own) on "boom"."""

    classes_ = ["neg", "pos"]

    def predict(self, texts):
        return [self.classes_[int(p[1] > 0.5)] for p in self.predict_proba(texts)]

    def predict_proba(self, texts):
        if "bad" in texts:
            raise ValueError("this model takes no 'bad'")
        if "boom" in texts:
            raise RuntimeError("the model fell over")
        return [[0.25, 0.75] if "good" in t else [0.75, 0.25] for t in texts]


class BrokenOnLoad:
    """Pickles fine, fails to unpickle (a library that changed under it)."""

    def predict(self, texts):
        return texts

    def __reduce__(self):
        return (_refuse, ())


def _refuse():
    raise ImportError("the version of mylib this was pickled with is not installed")


class Evil:
    """Writes a file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class JsonCodec:
    """A custom serializer: an Echo as JSON (recorded as custom:json-echo)."""

    name = "json-echo"

    @staticmethod
    def dumps(obj):
        import json

        return json.dumps({"suffix": obj.suffix}).encode()

    @staticmethod
    def loads(data):
        import json

        return Echo(suffix=json.loads(data)["suffix"])
