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

from . import _native
from .errors import RegistryError

log = logging.getLogger("modelreg")


class Source(Protocol):
    """What a follower needs of a registry (``modelreg.Registry`` is one)."""

    def load(self, target: str, *, serializer: Any = None) -> Tuple[Any, Dict[str, Any]]: ...

    def follow_state(self, alias: str) -> "_native.FollowState": ...


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

    What to do at each poll is decided by the registry's own follower (the
    state machine ``model-server`` runs): a target is identified by its
    version and metadata digest; a version that fails to load is counted in
    ``failures`` and logged once, and not retried until the alias moves
    again; an alias that cannot be read is counted once per reason.
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
        self.last_error: Optional[BaseException] = None
        self.failures = 0
        self.switches = 0
        # The first load happens here, so a follower that exists serves.
        self._state = registry.follow_state(alias)
        version, digest = self._state.first()
        model, metadata = registry.load(version, serializer=serializer)
        self._current = Served(model, metadata, version)
        self._previous: Optional[Served] = None
        self._state.loaded(version, digest)
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
                action = self._state.poll()
            except RegistryError as e:  # pragma: no cover - poll reports read failures itself
                self.last_error = e
                return False
            if action is None:
                return False
            kind, what, detail = action
            if kind == "unreadable":
                self.last_error = RegistryError(what, "alias_unreadable")
                if detail:
                    self._report(what)
                return False
            version, digest = what, detail
            kept = self._previous
            if kind == "swap_back" and kept is not None and kept.metadata.get("metadata_sha256") == digest:
                served = kept
            else:
                try:
                    model, metadata = self._registry.load(version, serializer=self._serializer)
                except Exception as e:  # a version that cannot be served is never switched to
                    self.last_error = e
                    if self._state.failed(version, digest):
                        self._report(e)
                    return False
                if metadata.get("metadata_sha256") != digest:
                    # The alias moved while loading: read it again next poll.
                    self._state.moved()
                    return False
                served = Served(model, metadata, version)
            self._previous, self._current = self._current, served
            self._state.loaded(version, digest)
            self.last_error = None
            self.switches += 1
            log.info("modelreg: %s now serves version %s", self._alias, version)
            return True

    def _report(self, error: Any) -> None:
        self.failures += 1
        log.warning("modelreg: %s stays on version %s: %s", self._alias, self._current.version, error)

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
