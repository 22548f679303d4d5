"""modelreg.Registry: the seed's API (save_model, get_latest_model,
get_model) and the rest of what the command line does, on the Rust core."""

import json
import math
import os
import pathlib
import warnings
from typing import Any, Dict, List, Optional, Tuple, Union, cast

from . import _native
from . import environment, serializers
from .errors import EnvironmentMismatchError
from .errors import IntegrityError, InvalidInput, InvalidType
from .follow import Follower

PathLike = Union[str, "os.PathLike[str]"]
Metadata = Dict[str, Any]


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


_MISSING: Any = _Missing()


def _doc(text: str) -> Metadata:
    return cast(Metadata, json.loads(text))


def _docs(text: str) -> List[Metadata]:
    return cast(List[Metadata], json.loads(text))


def _check_json(value: Any, where: str) -> None:
    """Refuses what JSON cannot hold faithfully, naming where it is."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{where} is {value}: scores and metrics must be finite numbers", "invalid_metadata")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidType(f"{where} has the key {key!r}: keys must be strings", "invalid_metadata")
            _check_json(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise InvalidType(
            f"{where} is a {type(value).__name__}, which JSON cannot hold: "
            "use numbers, strings, booleans, lists and dicts (call .item() on a numpy scalar)",
            "invalid_metadata",
        )


def _metadata_json(metadata: Optional[Metadata], version: Optional[str]) -> Tuple[str, Optional[str]]:
    """The user's metadata as JSON for the core, and the data file to
    fingerprint (``metadata["data"]``, a path)."""
    if metadata is None:
        return "{}", None
    if not isinstance(metadata, dict):
        raise InvalidType(f"metadata must be a dict, not a {type(metadata).__name__}", "invalid_metadata")
    fields = dict(metadata)
    given = fields.pop("version", None)
    if given is not None and given != version:
        raise InvalidInput(
            f"metadata['version'] is {given!r} but the version saved is {version!r}: "
            "drop the key (the registry fills it in)",
            "invalid_metadata",
        )
    # Keys the registry fills in are refused by the native side
    # (registry-core's FILLED_METADATA_KEYS), as `registry add --metadata` does.
    data = fields.pop("data", None)
    if data is not None and not isinstance(data, (str, os.PathLike)):
        raise InvalidType(
            f"metadata['data'] is the training data's path, not a {type(data).__name__}", "invalid_metadata"
        )
    _check_json(fields, "metadata")
    return json.dumps(fields, allow_nan=False), (os.fspath(data) if data is not None else None)


def _signing(sign_key: Optional[PathLike], key_password: Optional[str]) -> Dict[str, Optional[str]]:
    return {"sign_key": os.fspath(sign_key) if sign_key is not None else None, "key_password": key_password}


def _version_arg(version: Any) -> Optional[str]:
    if version is None or isinstance(version, str):
        return version
    raise InvalidType(
        f"version must be a string such as '1.0.0', not a {type(version).__name__}; "
        "to save under the next version, leave it out and pass model=..., bump='patch'",
        "invalid_version",
    )


def _model_type(model: Any) -> str:
    kind = type(model)
    return f"{kind.__module__}.{kind.__qualname__}"


def _trusted_key_paths(keys: Union[PathLike, List[PathLike], None]) -> Optional[List[str]]:
    """``trusted_keys=``: one path, a list, or None: MODELREG_TRUSTED_KEYS
    (paths separated by ':'), read by the native side as the command-line
    tools read it."""
    if keys is None:
        return None
    if isinstance(keys, (str, os.PathLike)):
        return [os.fspath(keys)]
    return [os.fspath(k) for k in keys]


class Registry:
    """A model registry: a directory, or ``s3://bucket/prefix`` in a build
    with S3 support, and one model in it (``model=None``: the default
    model, the seed's layout; see ``registry models``).

    Opening writes nothing: the registry is created by its first save.
    With ``trusted_keys`` (public keys in PEM; default: MODELREG_TRUSTED_KEYS)
    only versions signed by one of them are loaded or promoted; anything
    else raises ``SignatureError`` (see docs/SECURITY.md).
    A remote registry's versions are read through the local cache
    (``cache_dir``; default MODELREG_CACHE, else ~/.cache/modelreg), so a
    pinned version read once loads again with no request to the store;
    ``cache=False`` reads the store alone.
    Every method is safe to call from several threads and processes at
    once; saves are atomic, versions immutable, alias moves
    compare-and-swap. I/O, hashing and prediction release the GIL.
    """

    def __init__(
        self,
        location: PathLike = "registry",
        model: Optional[str] = None,
        *,
        s3_endpoint: Optional[str] = None,
        trusted_keys: Union[PathLike, List[PathLike], None] = None,
        cache: bool = True,
        cache_dir: Optional[PathLike] = None,
    ) -> None:
        if not isinstance(location, (str, os.PathLike)):
            raise InvalidType(f"location must be a path or an s3:// URL, not a {type(location).__name__}")
        if model is not None and not isinstance(model, str):
            raise InvalidType(f"model must be a name (a string), not a {type(model).__name__}")
        self._location = os.fspath(location)
        self._native = _native.NativeRegistry(
            self._location,
            model,
            s3_endpoint,
            _trusted_key_paths(trusted_keys),
            bool(cache),
            None if cache_dir is None else os.fspath(cache_dir),
        )

    @property
    def location(self) -> str:
        """Where the registry is."""
        return self._native.location()

    @property
    def model(self) -> Optional[str]:
        """The model's name (``None``: the default model)."""
        return self._native.model()

    def __repr__(self) -> str:
        model = f", model={self.model!r}" if self.model else ""
        return f"Registry({self._location!r}{model})"

    # ---- saving ---------------------------------------------------------

    def save_model(
        self,
        version: Optional[str] = None,
        model: Any = _MISSING,
        metadata: Optional[Metadata] = None,
        *,
        bump: Optional[str] = None,
        serializer: Any = None,
        sign_key: Optional[PathLike] = None,
        key_password: Optional[str] = None,
    ) -> Metadata:
        """Saves ``model`` as ``version`` (e.g. ``"1.0.0"``), or as the next
        version (``bump="patch"``, ``"minor"``, ``"major"``) when ``version``
        is left out, and returns the full metadata.

        ``metadata`` holds what you know: ``hyperparameters``, ``cv_score``,
        ``cv_std``, ``test_score``, ``metrics``, ``description``, ``tags``,
        ``model_type`` and ``data`` (the training data's path, fingerprinted:
        name, size, sha256, rows). The registry fills in the version,
        timestamp, digests and lineage (user, host, code, parent version).
        ``serializer`` is ``"joblib"`` (the default when installed), ``"pickle"``,
        ``"bytes"`` or an object with ``dumps``/``loads``; a
        :class:`TextClassifier` is saved in the trainer's format, which
        ``predictor`` and ``model-server`` serve.

        ``sign_key`` (a private key in PEM; ``key_password`` if it is
        encrypted) signs the version as it is saved, in the OpenSSF
        model-signing format: the signature is written before the version
        becomes visible.

        Raises ``VersionExists`` if the version is taken (versions are
        immutable), ``InvalidName`` for a malformed version, ``InvalidInput``
        for bad metadata or a model the serializer cannot encode. A failed
        save leaves nothing behind.
        """
        version = _version_arg(version)
        if model is _MISSING:
            raise InvalidType("save_model needs the model: save_model(version, model, metadata)", "invalid_input")
        info, data = _metadata_json(metadata, version)
        if isinstance(model, _native.TextClassifier) and serializer in (None, "textclf"):
            saved = self._native.save_classifier(
                model,
                info,
                version=version,
                bump=bump,
                data_path=data,
                environment=json.dumps(environment.describe({"modelreg"}, "modelreg TextClassifier")),
                **_signing(sign_key, key_password),
            )
            return _doc(saved)
        name, impl = serializers.for_saving(serializer)
        try:
            payload = impl.dumps(model)
        except InvalidInput:
            raise
        except Exception as e:
            raise InvalidInput(
                f"cannot serialise the model (a {type(model).__name__}) with {name}: {e}", "encode"
            ) from e
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"serializer {name}'s dumps returned a {type(payload).__name__}, not bytes", "encode")
        extension = getattr(impl, "extension", "bin")
        model_type = _model_type(model)
        recorded = environment.of_save(model, bytes(payload), name)
        saved = self._native.save_bytes(
            bytes(payload),
            extension,
            info,
            model_type,
            name,
            environment=json.dumps(recorded),
            version=version,
            bump=bump,
            data_path=data,
            **_signing(sign_key, key_password),
        )
        return _doc(saved)

    def save_file(
        self,
        path: PathLike,
        version: Optional[str] = None,
        metadata: Optional[Metadata] = None,
        *,
        bump: Optional[str] = None,
        sign_key: Optional[PathLike] = None,
        key_password: Optional[str] = None,
    ) -> Metadata:
        """Registers a file or a directory as it is (an ONNX file, a
        PyTorch checkpoint, a Hugging Face model directory), like
        ``registry add``: every file is digested; links, devices and hidden
        files are refused."""
        version = _version_arg(version)
        info, data = _metadata_json(metadata, version)
        saved = self._native.save_path(
            os.fspath(path),
            info,
            version=version,
            bump=bump,
            data_path=data,
            environment=json.dumps(environment.describe(set(), "files")),
            **_signing(sign_key, key_password),
        )
        return _doc(saved)

    # ---- loading --------------------------------------------------------

    def get_latest_model(self, *, serializer: Any = None, strict_env: bool = False) -> Tuple[Any, Metadata]:
        """The newest release and its metadata: ``model, metadata = registry.get_latest_model()``."""
        return self.load("latest", serializer=serializer, strict_env=strict_env)

    def get_model(self, version: str, *, serializer: Any = None, strict_env: bool = False) -> Tuple[Any, Metadata]:
        """One version and its metadata."""
        if not isinstance(version, str):
            raise InvalidType(f"version must be a string such as '1.0.0', not a {type(version).__name__}")
        return self.load(version, serializer=serializer, strict_env=strict_env)

    def get_by_alias(self, alias: str, *, serializer: Any = None, strict_env: bool = False) -> Tuple[Any, Metadata]:
        """The version an alias (``production``, ``staging``) names now."""
        return self.load(alias, serializer=serializer, strict_env=strict_env)

    def load(self, target: str, *, serializer: Any = None, strict_env: bool = False) -> Tuple[Any, Metadata]:
        """Any target: a version, an alias, or ``models:/NAME@ALIAS`` /
        ``models:/NAME/VERSION`` (of any model in this registry). Every
        byte is checked against the version's digests before it is
        decoded; the model is decoded with the serializer it was saved
        with (``serializer=`` overrides), and a version of files saved by
        another tool comes back as its single file's bytes.

        A version saved under other versions of the packages its object
        imports (``metadata["environment"]``) than the running ones loads
        with an :class:`modelreg.environment.EnvironmentMismatch` warning
        naming each; ``strict_env=True`` raises
        :class:`EnvironmentMismatchError` instead, before unpickling."""
        if not isinstance(target, str):
            raise InvalidType(f"target must be a string, not a {type(target).__name__}")
        native = self._native_for(target)
        kind, payload, metadata_json = native.load(target)
        metadata = json.loads(metadata_json)
        if kind == "classifier" and serializer is None:
            return payload, metadata
        impl = serializers.for_loading(metadata.get("serializer"), serializer, metadata["version"])
        if kind == "classifier":
            payload = payload.to_bytes()
        if impl is None:
            return payload, metadata
        differences = environment.mismatches(metadata.get("environment"))
        if differences:
            message = (
                f"version {metadata['version']} was saved under another environment: "
                + "; ".join(differences)
                + " (its requirements: metadata['environment']['requirements'])"
            )
            if strict_env:
                raise EnvironmentMismatchError(message + "; nothing was unpickled", "environment_mismatch")
            warnings.warn(message, environment.EnvironmentMismatch, stacklevel=3)
        try:
            return impl.loads(payload), metadata
        except Exception as e:  # every serializer's failure is a RegistryError
            name = serializers.for_saving(serializer)[0] if serializer is not None else metadata.get("serializer")
            hint = (
                " (a library the model needs is missing or of another version in this environment)"
                if isinstance(e, ImportError)
                else " (its digests match: the bytes are as saved, but this serializer cannot make a model of them here)"
            )
            raise IntegrityError(
                f"version {metadata['version']}: the {name} serializer cannot decode the model: "
                f"{type(e).__name__}: {e}{hint}",
                "decode",
            ) from e

    def metadata(self, target: str = "latest") -> Metadata:
        """The metadata of a version, an alias's version, or a URI's."""
        return _doc(self._native_for(target).metadata(target))

    def get_file(self, target: str, out: PathLike, *, force: bool = False) -> pathlib.Path:
        """Writes the files of ``target`` to ``out`` like ``registry get``:
        checked against their digests, published in one rename; an
        existing ``out`` raises ``OutputExists`` unless ``force``."""
        path, _files, _bytes = self._native_for(target).get_file(target, os.fspath(out), force)
        return pathlib.Path(path)

    def _native_for(self, target: str) -> "_native.NativeRegistry":
        # Another model of the same registry, sharing this one's store (and
        # its S3 client); a URI that names no other model is this handle.
        return self._native.for_target(target)

    # ---- listing --------------------------------------------------------

    def list_versions(
        self,
        *,
        where: Union[str, List[str], None] = None,
        sort: Optional[str] = None,
        descending: bool = False,
        limit: Optional[int] = None,
        include_deprecated: bool = False,
        details: bool = False,
    ) -> Union[List[str], List[Metadata]]:
        """The saved versions, oldest first: their numbers, or with
        ``details=True`` one dict per version (scores, metrics, tags, data,
        size, ``deprecated``). ``where`` filters like ``registry list
        --where`` (``"test_score>=0.8"``, a list of such conditions), ``sort``
        orders by a field or metric. Deprecated versions are left out
        unless ``include_deprecated``."""
        conditions = [where] if isinstance(where, str) else list(where or [])
        rows = json.loads(
            self._native.list_versions(
                conditions, sort=sort, descending=descending, limit=limit, include_deprecated=include_deprecated
            )
        )
        return rows if details else [row["version"] for row in rows]

    def models(self) -> List[str]:
        """The named models in this registry."""
        return self._native.list_models()

    # ---- aliases --------------------------------------------------------

    def resolve(self, alias: str) -> str:
        """The version an alias names now."""
        return str(_doc(self._native.resolve(alias))["version"])

    def promote(
        self,
        version: str,
        to: str,
        *,
        expect: Optional[str] = None,
        if_better: bool = False,
        metric: Optional[str] = None,
        force: bool = False,
    ) -> Metadata:
        """Points alias ``to`` at ``version`` (a version or another alias,
        such as ``"latest"``). ``expect``: the version the alias must name
        now (``"none"``: it must not exist), else ``AliasConflict``;
        ``if_better``: only if ``metric`` (default ``test_score``) beats the
        current target's, else ``PromotionRefused``. Returns the alias's new
        record, with ``changed`` False if it already named the version."""
        record_json, changed = self._native.promote(
            version, to, expect=expect, if_better=if_better, metric=metric, force=force
        )
        record = _doc(record_json)
        record["changed"] = changed
        return record

    def rollback(self, alias: str, *, to: Optional[str] = None) -> Metadata:
        """Moves ``alias`` back to its previous target (or to ``to``, any
        earlier one); returns its new record."""
        return _doc(self._native.rollback(alias, to=to))

    def delete(self, target: str, *, reason: Optional[str] = None) -> Metadata:
        """Deletes a version (``registry delete``): refused (``Refused``)
        while an alias names it, ``latest`` included. From then on it is
        absent from ``versions()`` and every load of it raises
        ``VersionDeleted`` saying when, by whom and why; ``undelete``
        restores it until gc removes its files. Returns the deletion
        record."""
        return _doc(self._native.delete(target, reason))

    def undelete(self, target: str) -> Metadata:
        """Restores a deleted version (``registry undelete``); returns its
        deletion record, now with ``deleted`` False."""
        return _doc(self._native.undelete(target))

    def history(self, alias: str) -> List[Metadata]:
        """Every state of ``alias``, oldest first."""
        return _docs(self._native.history(alias))

    def aliases(self) -> List[Metadata]:
        """Every alias's current state."""
        return _docs(self._native.aliases())

    def sign(self, target: str, key: PathLike, *, key_password: Optional[str] = None) -> str:
        """Signs an existing version (``registry sign``) with a private key
        in PEM; returns its number. A version is signed once."""
        return self._native.sign(target, os.fspath(key), key_password)

    def is_signed(self, target: str = "latest") -> bool:
        """Whether the version has a signature (checked only with trusted keys)."""
        return self._native.is_signed(target)

    def verify(self) -> Metadata:
        """Checks every version's files against their digests and every
        alias's target: a report with ``ok``, ``problems`` and
        ``leftovers``, as ``registry verify --json``."""
        return _doc(self._native.verify())

    def follow_state(self, alias: str) -> "_native.FollowState":
        """The state machine a :class:`Follower` of ``alias`` runs (the
        registry's own, as ``model-server``'s); most callers want
        :meth:`follow`."""
        return self._native.follow_state(alias)

    def follow(self, alias: str = "production", poll_seconds: float = 1.0, *, serializer: Any = None) -> Follower:
        """An object whose ``.model`` / ``.metadata`` switch, in the
        background, when ``alias`` moves (see :class:`Follower`)."""
        return Follower(self, alias, poll_seconds=poll_seconds, serializer=serializer)


def load(
    uri: str,
    registry: PathLike = "registry",
    *,
    serializer: Any = None,
    trusted_keys: Union[PathLike, List[PathLike], None] = None,
) -> Tuple[Any, Metadata]:
    """``modelreg.load("models:/spam@production")``: a model and its
    metadata from the registry at ``registry``."""
    return Registry(registry, trusted_keys=trusted_keys).load(uri, serializer=serializer)

