"""Compiled Cython kernels (private).  Built from ``src/_native/*.pyx`` by ``setup.py``.

Kernels assume validated input (dtype, shape, C-contiguity); call them only through the
public modules, which check everything first.
"""
