"""Import optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["require_module", "require_tool"]


def require_module(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``.

    Examples
    --------
    >>> require_module("numpy", "core").__name__
    'numpy'
    >>> require_module("no_such_module_xyz", "ocr")
    Traceback (most recent call last):
    ...
    onestop_docs.errors.MissingDependencyError: ...pip install 'onestop_docs[ocr]'...
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the optional package {module.split('.')[0]!r} is required for this feature; "
            f"install it with: pip install 'onestop_docs[{extra}]'"
        ) from exc


def require_tool(command: str, debian_package: str) -> str:
    """Return the full path of ``command`` or raise :class:`MissingDependencyError`.

    Examples
    --------
    >>> require_tool("no-such-tool-xyz", "no-such-package")
    Traceback (most recent call last):
    ...
    onestop_docs.errors.MissingDependencyError: ...apt-get install no-such-package...
    """
    path = shutil.which(command)
    if path is None:
        raise MissingDependencyError(
            f"the program {command!r} was not found on PATH; "
            f"install it with: apt-get install {debian_package}"
        )
    return path
