"""The exceptions of modelreg.

Every error the registry raises is a :class:`RegistryError`; the
subclasses are what a caller catches. Each also derives from the built-in
exception a Python caller would expect (``NotFound`` is a ``LookupError``,
``InvalidName`` and ``InvalidInput`` are ``ValueError``s, ``StoreError`` an
``OSError``). The message is the command-line tools' own: what was wrong,
where, and how to fix it. ``code`` is a stable, machine-readable name
(``version_exists``, ``alias_not_found``, ...).
"""


class RegistryError(Exception):
    """Any error of the registry."""

    def __init__(self, message: str, code: str = "registry") -> None:
        super().__init__(message)
        self.code = code


class Refused(RegistryError):
    """The registry's rules said no (the command-line tools exit 1): a
    reserved alias, nothing to roll back, a version already signed, a
    version of several files asked for as one model; the subclasses below
    for the common cases."""


class VersionExists(Refused):
    """The version is already saved: versions are immutable; pick another (or bump=)."""


class NotFound(RegistryError, LookupError):
    """No such version, alias, model, file or registry."""


class VersionDeleted(NotFound):
    """The version was deleted (`delete`); `undelete` restores it until gc
    removes its files."""


class AliasConflict(Refused):
    """A compare-and-swap lost: the alias (or latest) moved meanwhile."""


class PromotionRefused(Refused):
    """A promotion gate (if_better, a deprecated version) refused the move."""


class IntegrityError(RegistryError):
    """Stored bytes do not match their digests, or are not a valid document or model."""


class SignatureError(IntegrityError):
    """With trusted keys: a version unsigned, signed by another key, or
    changed since signing; or an alias whose policy requires signatures
    read without trusted keys."""


class InvalidName(RegistryError, ValueError):
    """A malformed version, alias, model name, URI or location."""


class InvalidInput(RegistryError, ValueError):
    """Bad arguments: metadata, serializer, files, options."""


class InvalidType(InvalidInput, TypeError):
    """An argument of the wrong type (a version that is not a string, ...)."""


class OutputExists(Refused, FileExistsError):
    """get_file's destination exists (pass force=True to replace it)."""


class Unsupported(RegistryError):
    """This build cannot do it: a registry written in a newer format (upgrade
    modelreg), or an s3:// registry with a package built without S3."""


class StoreError(RegistryError, OSError):
    """The storage below the registry failed (disk, permissions, network)."""


class NotFitted(RegistryError, ValueError):
    """A TextClassifier used before fit()."""


class EnvironmentMismatchError(Refused):
    """``get_model(..., strict_env=True)`` of a version saved under other
    versions of the packages it needs (or another Python) than the running
    ones; the message lists each difference. Without ``strict_env`` the
    same differences are a warning (``modelreg.environment.EnvironmentMismatch``)."""


__all__ = [
    "RegistryError",
    "Refused",
    "VersionExists",
    "NotFound",
    "VersionDeleted",
    "AliasConflict",
    "PromotionRefused",
    "IntegrityError",
    "SignatureError",
    "InvalidName",
    "InvalidInput",
    "InvalidType",
    "OutputExists",
    "Unsupported",
    "StoreError",
    "NotFitted",
    "EnvironmentMismatchError",
]
