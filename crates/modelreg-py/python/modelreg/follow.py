"""Following an alias: serve the new production model without a restart.

A :class:`Follower` loads the version an alias names, then polls the alias
in a background thread (one small read per poll; on S3 a conditional GET
that transfers nothing while it is unchanged). When the alias moves, it
loads the new version *before* switching, and switches by replacing one
reference, so a request sees the old model or the new one, never a mix. A
version that fails to load is not switched to: the previous model keeps
serving, and the failure is in ``last_error``, ``failures`` and a warning
on the ``modelreg`` logger.
"""

import logging
import threading
from typing import Any, Dict, NamedTuple, Optional, Protocol, Tuple

from .errors import RegistryError

log = logging.getLogger("modelreg")


class Source(Protocol):
    """What a follower needs of a registry (``modelreg.Registry`` is one)."""

    _native: Any

    def load(self, target: str, *, serializer: Any = None) -> Tuple[Any, Dict[str, Any]]: ...


class Served(NamedTuple):
    """One version as served: the model, its metadata and its number."""

    model: Any
    metadata: Dict[str, Any]
    version: str


class Follower:
    """The model an alias names, kept current in the background.

    Read ``current`` (a :class:`Served` tuple) once per request to get a
    model and metadata that belong together; ``model`` and ``metadata`` are
    shortcuts that each read it once. Use as a context manager, or call
    ``close()``, to stop the thread.
    """

    def __init__(self, registry: Source, alias: str, *, poll_seconds: float = 1.0, serializer: Any = None):
        if not poll_seconds > 0:
            raise ValueError(f"poll_seconds={poll_seconds}: it must be positive")
        self._registry = registry
        self._alias = alias
        self._poll = float(poll_seconds)
        self._serializer = serializer
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tag: Any = None
        self._failed_version: Optional[str] = None
        self.last_error: Optional[BaseException] = None
        self.failures = 0
        self.switches = 0
        # The first load happens here, so a follower that exists serves.
        record_json = registry._native.resolve_if_changed(alias, None)
        if record_json is None:  # pragma: no cover - a first read always changes
            raise RegistryError(f"alias {alias} could not be read", "alias_not_found")
        record, self._tag = record_json
        version = _version_of(record)
        model, metadata = registry.load(version, serializer=serializer)
        self._current = Served(model, metadata, version)
        self._thread = threading.Thread(target=self._run, name=f"modelreg-follow-{alias}", daemon=True)
        self._thread.start()

    @property
    def current(self) -> Served:
        return self._current

    @property
    def model(self) -> Any:
        return self._current.model

    @property
    def metadata(self) -> Dict[str, Any]:
        return self._current.metadata

    @property
    def version(self) -> str:
        return self._current.version

    def refresh(self) -> bool:
        """Checks the alias now (the thread does this every
        ``poll_seconds``); True if it switched to another version."""
        with self._lock:
            try:
                changed = self._registry._native.resolve_if_changed(self._alias, self._tag)
            except RegistryError as e:
                self._fail(e, None)
                return False
            if changed is None:
                return False
            record, tag = changed
            version = _version_of(record)
            if version == self._current.version:
                self._tag = tag
                return False
            try:
                model, metadata = self._registry.load(version, serializer=self._serializer)
            except Exception as e:  # a version that cannot be served is never switched to
                self._fail(e, version)
                return False
            self._current = Served(model, metadata, version)
            self._tag = tag
            self._failed_version = None
            self.switches += 1
            log.info("modelreg: %s now serves version %s", self._alias, version)
            return True

    def _fail(self, error: BaseException, version: Optional[str]) -> None:
        self.last_error = error
        # Counted and logged once per failing version, not once per poll.
        if version is None or version != self._failed_version:
            self.failures += 1
            self._failed_version = version
            log.warning(
                "modelreg: %s stays on version %s: %s", self._alias, self._current.version, error
            )

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            self.refresh()

    def close(self) -> None:
        """Stops following (the last model stays readable)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> "Follower":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Follower(alias={self._alias!r}, version={self.version!r})"


def _version_of(record_json: str) -> str:
    import json

    version: str = json.loads(record_json)["version"]
    return version
