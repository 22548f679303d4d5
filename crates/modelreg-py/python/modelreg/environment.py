"""The environment a model is saved from, recorded in its metadata
(``environment``), and the check made when it is loaded again.

A pickle names the modules it imports (``sklearn.linear_model._logistic``),
not the versions they came from; a model unpickled under another
scikit-learn may load and predict differently, which scikit-learn only
warns about (``InconsistentVersionWarning``). So every save records:

- the Python version and platform;
- the distributions the pickled object imports from, found from the
  pickle's own imports (``pickletools`` lists every ``module.name`` a
  pickle loads; a joblib file, whose arrays sit inside the stream, is
  walked by a pickler that notes each object's module), mapped to
  distributions with ``importlib.metadata.packages_distributions``, with
  their installed versions and as ``requirements`` lines for
  ``pip install -r``;
- the modules no distribution provides (the project's own code);
- the saving script and, when it is in a git checkout, its commit.

``get_model`` compares the recorded versions with the running ones and
warns (:class:`EnvironmentMismatch`) when they differ;
``strict_env=True`` raises :class:`modelreg.EnvironmentMismatchError`
instead.
"""

import importlib.metadata
import os
import pathlib
import pickle
import pickletools
import platform
import subprocess
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set

# Modules every Python has: not requirements.
_STDLIB: Set[str] = set(getattr(sys, "stdlib_module_names", ())) | {"builtins", "copyreg", "__builtin__"}


class EnvironmentMismatch(UserWarning):
    """A model is loaded under other versions of what it was saved with."""


def pickle_modules(data: bytes) -> Set[str]:
    """Every module a pickle stream imports (``GLOBAL``, ``INST`` and
    ``STACK_GLOBAL`` opcodes), as far as the stream can be read as pickle
    opcodes."""
    modules: Set[str] = set()
    strings: List[Any] = []
    memo: Dict[int, Any] = {}
    try:
        for op, arg, _ in pickletools.genops(data):
            name = op.name
            if name in ("GLOBAL", "INST"):
                modules.add(str(arg).split(" ", 1)[0])
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(arg, int):
                memo[arg] = strings[-1] if strings else None
            elif name in ("GET", "BINGET", "LONG_BINGET") and isinstance(arg, int):
                strings.append(memo.get(arg))
            elif name == "STACK_GLOBAL" and len(strings) >= 2 and isinstance(strings[-2], str):
                modules.add(strings[-2])
    except Exception:  # a stream with data inside it (joblib's arrays) ends here
        pass
    return modules


class _Noting(pickle.Pickler):
    """Pickles into nothing, noting the module of every object it meets."""

    def __init__(self) -> None:
        class _Null:
            def write(self, _: bytes) -> None:
                pass

        super().__init__(_Null(), protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: Set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        module = getattr(obj, "__module__", None) if isinstance(obj, type) or callable(obj) else None
        self.modules.add(module if isinstance(module, str) else type(obj).__module__)
        return None


def object_modules(obj: Any) -> Set[str]:
    """Every module an object's pickle would import (walked, not written)."""
    noting = _Noting()
    try:
        noting.dump(obj)
    except Exception:
        pass
    return noting.modules


def _distributions(modules: Iterable[str], mapping: Mapping[str, List[str]]) -> Dict[str, str]:
    """The installed distribution (and its version) providing each module's
    top-level package, by ``mapping`` (``packages_distributions()``)."""
    found: Dict[str, str] = {}
    for module in modules:
        top = module.split(".", 1)[0]
        for dist in mapping.get(top, ()):
            try:
                found[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def _git(directory: pathlib.Path, *args: str) -> Optional[str]:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _script() -> Dict[str, Any]:
    """The running script, relative to its git checkout, and the checkout's
    commit (nothing for an interactive session)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return {}
    script = pathlib.Path(path).resolve()
    top = _git(script.parent, "rev-parse", "--show-toplevel")
    if top is None:
        return {"script": script.name}
    found: Dict[str, Any] = {"script": os.path.relpath(script, top)}
    commit = _git(script.parent, "rev-parse", "HEAD")
    if commit:
        found["git_commit"] = commit
        found["git_dirty"] = bool(_git(script.parent, "status", "--porcelain", "--untracked-files=no"))
    return found


def describe(modules: Iterable[str], source: str) -> Dict[str, Any]:
    """The ``environment`` of a save whose model imports ``modules``."""
    modules = set(modules)
    # Scans every installed distribution's files: once per save.
    mapping = importlib.metadata.packages_distributions()
    packages = _distributions(modules, mapping)
    # The saving project's own code (``__main__`` included: a class defined
    # in the script is found again only where that script is).
    local = sorted({m.split(".", 1)[0] for m in modules} - _STDLIB - set(mapping))
    found: Dict[str, Any] = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items())),
        "requirements": [f"{d}=={v}" for d, v in sorted(packages.items())],
        "source": source,
    }
    if local:
        found["local_modules"] = local
    found.update(_script())
    return found


def of_save(model: Any, payload: bytes, serializer: str) -> Dict[str, Any]:
    """The environment of saving ``model`` as ``payload``."""
    if serializer == "pickle":
        return describe(pickle_modules(payload), "pickle imports")
    if serializer == "bytes":
        return describe(set(), "bytes")
    return describe(pickle_modules(payload) | object_modules(model), "pickle imports")


def mismatches(recorded: Optional[Dict[str, Any]]) -> List[str]:
    """How the running environment differs from ``recorded``: one line per
    package of another version or missing, and the Python's minor version."""
    if not recorded:
        return []
    found = []
    for dist, version in sorted((recorded.get("packages") or {}).items()):
        try:
            here = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{dist} {version} is not installed")
            continue
        if here != version:
            found.append(f"{dist} {version} saved, {here} here")
    python = str(recorded.get("python") or "")
    saved_minor = ".".join(python.split(" ")[-1].split(".")[:2])
    here_minor = ".".join(platform.python_version().split(".")[:2])
    if saved_minor and saved_minor != here_minor:
        found.append(f"Python {saved_minor} saved, {here_minor} here")
    return found
