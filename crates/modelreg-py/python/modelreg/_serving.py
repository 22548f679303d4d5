"""The Python half of ``python -m modelreg serve``: decoding a version's
checked bytes, describing the object, and calling it on a batch.

Everything else is model-server's, in Rust, inside the extension
(``modelreg._native.serve``): the HTTP routes (/v1, the Open Inference
Protocol's /v2, MLflow's /invocations, /metrics, /readyz), the limits and
timeouts, alias following with its atomic swap, signature policies, and
the dynamic batcher that joins concurrent requests into one call of
:func:`run`, made with the GIL held for that call only.

Unpickling runs code: a version is decoded only after its bytes matched
the digests sealed in its metadata and the registry's signature policy
let the alias (or version) through; see docs/SECURITY.md.
"""

import importlib
import json
import operator
from typing import Any, Dict, List, Optional, Tuple

from . import serializers
from .errors import InvalidInput


# Custom serializers given with --serializer MODULE:OBJECT, by the name
# their versions record (``custom:...``).
_CUSTOM: Dict[str, Any] = {}


def configure(specs: List[str]) -> List[str]:
    """Imports each ``MODULE:OBJECT`` serializer and returns the names
    (``custom:...``) of the versions it decodes."""
    for spec in specs:
        module, sep, attr = spec.partition(":")
        if not sep or not module or not attr:
            raise InvalidInput(f"--serializer {spec!r}: give MODULE:OBJECT (e.g. mypkg.codecs:Codec)", "invalid_serializer")
        try:
            found: Any = importlib.import_module(module)
            for part in attr.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as e:
            raise InvalidInput(f"--serializer {spec!r}: {type(e).__name__}: {e}", "invalid_serializer") from e
        name, impl = serializers.for_saving(found)
        _CUSTOM[name] = impl
    return sorted(_CUSTOM)


def decode(data: bytes, metadata_json: str) -> Any:
    """The object saved in ``data`` (already checked against its digests),
    decoded with the serializer its metadata records."""
    metadata = json.loads(metadata_json)
    recorded = metadata.get("serializer")
    custom = _CUSTOM.get(recorded) if isinstance(recorded, str) else None
    impl = custom if custom is not None else serializers.for_loading(recorded, None, metadata["version"])
    if impl is None:
        raise InvalidInput(f"version {metadata['version']} holds bytes, not a Python object", "not_an_object")
    model = impl.loads(data)
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"version {metadata['version']} holds a {type(model).__name__}, which has no predict(): "
            "the server calls predict (and predict_proba when the object has it)",
            "no_predict",
        )
    return model


def describe(model: Any) -> Tuple[Optional[List[str]], bool, Optional[int], str]:
    """What the server needs to know of ``model``: its labels (``classes_``,
    as text), whether it gives probabilities (``predict_proba`` with
    ``classes_``), how many numbers a row holds (``n_features_in_``; none:
    it takes texts, as a text pipeline does) and its type's name."""
    classes = getattr(model, "classes_", None)
    labels = [str(c) for c in classes] if classes is not None else None
    probabilities = labels is not None and callable(getattr(model, "predict_proba", None))
    declared: Any
    try:
        declared = getattr(model, "n_features_in_", None)
    except Exception:  # a pipeline whose first step has none raises
        declared = None
    features = operator.index(declared) if hasattr(declared, "__index__") else None
    kind = type(model)
    return labels, probabilities, features, f"{kind.__module__}.{kind.__qualname__}"


def run(model: Any, inputs: List[Any], probabilities: bool, numeric: bool) -> Tuple[List[Any], Optional[List[List[float]]]]:
    """One batch: the predicted values and, for a classifier with
    ``predict_proba``, every class's probability. With probabilities the
    label is the most probable class, so both come from one call."""
    rows: Any = inputs
    if numeric:
        try:
            import numpy

            rows = numpy.asarray(inputs, dtype=float)
        except ImportError:
            pass
    if probabilities:
        matrix = model.predict_proba(rows)
        table = matrix.tolist() if hasattr(matrix, "tolist") else [list(r) for r in matrix]
        classes = list(model.classes_)
        return [str(classes[max(range(len(r)), key=r.__getitem__)]) for r in table], table
    predicted = model.predict(rows)
    if getattr(model, "classes_", None) is not None:
        # Labels as describe() names them (str of each class).
        return [str(v) for v in predicted], None
    values = predicted.tolist() if hasattr(predicted, "tolist") else list(predicted)
    return [_plain(v) for v in values], None


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number or text it holds."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
