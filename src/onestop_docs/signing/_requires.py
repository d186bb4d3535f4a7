"""Fail early, with the name of the pip extra, when the ``sign`` extra is not installed."""

from __future__ import annotations

from .._deps import require_module

for _module in ("cryptography", "pyhanko", "pyhanko_certvalidator", "signxml", "lxml"):
    require_module(_module, "sign")
