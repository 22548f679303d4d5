"""modelreg: a local-first model registry, from Python.

>>> import modelreg
>>> registry = modelreg.Registry("registry")
>>> registry.save_model("1.0.0", model, {"test_score": 0.91})   # doctest: +SKIP
>>> model, metadata = registry.get_latest_model()               # doctest: +SKIP

The same registry as the command-line tools (``trainer``, ``predictor``,
``registry``, ``model-server``): same files, same guarantees (atomic saves,
immutable versions, digests checked on every load, aliases moved by
compare-and-swap with a history). See docs/PYTHON.md.
"""

from . import errors
from ._native import TextClassifier
from ._native import __version__
from .errors import (
    AliasConflict,
    EnvironmentMismatchError,
    IntegrityError,
    InvalidInput,
    InvalidName,
    InvalidType,
    NotFitted,
    NotFound,
    OutputExists,
    PromotionRefused,
    Refused,
    RegistryError,
    SignatureError,
    StoreError,
    Unsupported,
    VersionDeleted,
    VersionExists,
)
from .follow import Follower, Served
from .registry import Registry, load

__all__ = [
    "Registry",
    "TextClassifier",
    "Follower",
    "Served",
    "load",
    "errors",
    "__version__",
    *errors.__all__,
]
