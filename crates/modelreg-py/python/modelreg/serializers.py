"""How a model object becomes the bytes of a version, and back.

A version records the serializer it was saved with (``serializer`` in its
metadata), and loading uses it: ``pickle``, ``joblib`` (the default when
joblib is installed, as scikit-learn recommends), ``bytes`` (the model is
already bytes: an ONNX file read into memory, say), ``textclf`` (the
project's own classifier, in the trainer's format), or any object with
``dumps(obj) -> bytes`` and ``loads(bytes) -> obj``, recorded as
``custom:<name>``.

Unpickling runs code: loading a pickle or joblib file from a registry
means running whatever its writer put in it. modelreg checks every byte
against the digests sealed in the metadata before unpickling, so a file
changed after the save is refused; it cannot tell you whether the writer
was someone you trust (see docs/SECURITY.md and docs/PYTHON.md).
"""

import io
import pickle
from typing import Any, Optional, Protocol, Tuple

from .errors import InvalidInput


class Serializer(Protocol):
    """What a custom serializer provides."""

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class _Pickle:
    name = "pickle"
    extension = "pkl"

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> Any:
        return pickle.loads(data)


class _Joblib:
    name = "joblib"
    extension = "joblib"

    @staticmethod
    def dumps(obj: Any) -> bytes:
        import joblib  # type: ignore[import-untyped,unused-ignore]

        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        return buffer.getvalue()

    @staticmethod
    def loads(data: bytes) -> Any:
        import joblib  # type: ignore[import-untyped,unused-ignore]

        return joblib.load(io.BytesIO(data))


class _Bytes:
    name = "bytes"
    extension = "bin"

    @staticmethod
    def dumps(obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        raise InvalidInput(
            f'serializer="bytes" saves bytes as they are, but the model is a {type(obj).__name__}; '
            'pass its bytes, or use serializer="joblib" / "pickle"',
            "invalid_input",
        )

    @staticmethod
    def loads(data: bytes) -> Any:
        return data


BUILTIN = {s.name: s for s in (_Pickle, _Joblib, _Bytes)}


def _has_joblib() -> bool:
    try:
        import joblib  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def custom_name(serializer: Any) -> str:
    """The name a custom serializer is recorded under: its ``name``
    attribute, else its module (for a module such as cloudpickle) or its
    class's qualified name."""
    name = getattr(serializer, "name", None)
    if isinstance(name, str) and name:
        return f"custom:{name}"
    if isinstance(serializer, type(io)):
        return f"custom:{serializer.__name__}"
    kind = serializer if isinstance(serializer, type) else type(serializer)
    return f"custom:{kind.__module__}.{kind.__qualname__}"


def for_saving(serializer: Any) -> Tuple[str, Any]:
    """The recorded name and the implementation of ``serializer=``."""
    if serializer is None:
        return ("joblib", _Joblib) if _has_joblib() else ("pickle", _Pickle)
    if isinstance(serializer, str):
        chosen = BUILTIN.get(serializer)
        if chosen is None:
            raise InvalidInput(
                f"unknown serializer {serializer!r}: use 'pickle', 'joblib', 'bytes', "
                "or an object with dumps(obj) -> bytes and loads(bytes) -> obj",
                "invalid_serializer",
            )
        if chosen is _Joblib and not _has_joblib():
            raise InvalidInput('serializer="joblib" needs joblib: pip install joblib', "invalid_serializer")
        return serializer, chosen
    if callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None)):
        return custom_name(serializer), serializer
    raise InvalidInput(
        f"serializer={serializer!r} has no dumps/loads: use 'pickle', 'joblib', 'bytes', "
        "or an object with dumps(obj) -> bytes and loads(bytes) -> obj",
        "invalid_serializer",
    )


def for_loading(recorded: Optional[str], override: Any, version: str) -> Any:
    """The implementation to load a version's bytes with: ``override`` if
    given, else the recorded one; ``None`` returns the bytes as they are
    (a version saved by another tool, whose format the registry does not
    know)."""
    if override is not None:
        return for_saving(override)[1]
    if recorded is None or recorded == "bytes":
        return None
    if recorded in BUILTIN:
        return for_saving(recorded)[1]
    raise InvalidInput(
        f"version {version} was saved with the serializer {recorded}: "
        "pass that object as serializer= to load it",
        "unknown_serializer",
    )
