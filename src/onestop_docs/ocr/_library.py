"""Tesseract inside this process, through its C API (``libtesseract.so.5``) and ctypes.

The ``tesseract`` program loads its language model and dictionaries again for every page;
on the kit's A4 pages that start-up and the image hand-over are about a quarter of the
program's CPU time (``docs/benchmarks.md``, "Scan station throughput").  Here initialised
``TessBaseAPI`` engines are kept per (tessdata, language, engine mode, variables) and lent
to one page at a time, so a process holds as many as it reads pages at once.  Recognition runs with the GIL released (ctypes foreign calls),
so page threads read in parallel.  The text it returns is the program's, byte for byte:
the same page segmentation mode (3 unless asked), the same resolution, the same TSV.

OpenMP: Tesseract's LSTM asks OpenMP for up to 10 threads per page; with two pages in
flight on two cores that multiplies the CPU time (3x measured).  ``OMP_THREAD_LIMIT`` is
read once, when OpenMP starts, so it is set (to ``TesseractConfig.omp_thread_limit``)
only around the loading of the library and restored at once.  If OpenMP was already
started by another library of the host program with a higher limit, the library engine is
not used (``"auto"`` falls back to the program) because it would oversubscribe the cores.

Everything here assumes checked input: a C-contiguous uint8 (H, W) image, a language
that is installed, a positive timeout.  Callers are in :mod:`onestop_docs.ocr`.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingDependencyError, OcrError

_SONAME = "libtesseract.so.5"
_GOMP = "libgomp.so.1"
_PSM_AUTO = 3
_OEM_DEFAULT = 3

_vp = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "TessBaseAPICreate": (_vp, []),
    "TessBaseAPIDelete": (None, [_vp]),
    "TessBaseAPIEnd": (None, [_vp]),
    "TessBaseAPIInit4": (
        ctypes.c_int,
        [
            _vp,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_size_t,
            ctypes.c_int,
        ],
    ),
    "TessBaseAPISetPageSegMode": (None, [_vp, ctypes.c_int]),
    "TessBaseAPISetImage": (
        None,
        [_vp, _vp, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int],
    ),
    "TessBaseAPISetSourceResolution": (None, [_vp, ctypes.c_int]),
    "TessBaseAPIRecognize": (ctypes.c_int, [_vp, _vp]),
    "TessBaseAPIGetTsvText": (_vp, [_vp, ctypes.c_int]),
    "TessBaseAPIClear": (None, [_vp]),
    "TessDeleteText": (None, [_vp]),
    "TessMonitorCreate": (_vp, []),
    "TessMonitorDelete": (None, [_vp]),
    "TessMonitorSetDeadlineMSecs": (None, [_vp, ctypes.c_int]),
}

_load_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_load_error: str | None = None
_thread_limit: int | None = None  # OpenMP thread limit of this process, when known


def _gomp_started() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            return "libgomp" in fh.read()
    except OSError:
        return False


def _gomp_thread_limit() -> int | None:
    try:
        gomp = ctypes.CDLL(_GOMP)
    except OSError:
        return None
    fn = gomp.omp_get_thread_limit
    fn.restype = ctypes.c_int
    fn.argtypes = []
    return int(fn())


def require(thread_limit: int) -> ctypes.CDLL:
    """The bound library, loaded once; raises ``MissingDependencyError`` when unusable."""
    global _lib, _load_error, _thread_limit
    with _load_lock:
        if _lib is None and _load_error is None:
            gomp_before = _gomp_started()
            old = os.environ.get("OMP_THREAD_LIMIT")
            if not gomp_before:
                os.environ["OMP_THREAD_LIMIT"] = str(thread_limit)
            try:
                lib = ctypes.CDLL(_SONAME)
                for name, (restype, argtypes) in _SIGNATURES.items():
                    fn = getattr(lib, name)
                    fn.restype = restype
                    fn.argtypes = argtypes
                _lib = lib
            except (OSError, AttributeError) as exc:
                _load_error = f"{_SONAME} could not be loaded ({exc})"
            finally:
                if not gomp_before:
                    if old is None:
                        os.environ.pop("OMP_THREAD_LIMIT", None)
                    else:
                        os.environ["OMP_THREAD_LIMIT"] = old
            if _lib is not None:
                _thread_limit = _gomp_thread_limit() if _gomp_started() else None
        if _lib is None:
            raise MissingDependencyError(
                f"the Tesseract library engine is not available: {_load_error}; install it "
                "with: apt-get install libtesseract5, or use TesseractConfig(engine='program')"
            )
        if _thread_limit is not None and _thread_limit > thread_limit:
            raise MissingDependencyError(
                "the Tesseract library engine would run with up to "
                f"{_thread_limit} OpenMP threads per page (OpenMP was started in this process "
                f"before the library, without OMP_THREAD_LIMIT={thread_limit}); use "
                "TesseractConfig(engine='program') or set OMP_THREAD_LIMIT before start-up"
            )
        return _lib


def available(thread_limit: int) -> bool:
    """Whether the library engine can run here with at most ``thread_limit`` threads a page.

    Examples
    --------
    >>> isinstance(available(1), bool)
    True
    """
    try:
        require(thread_limit)
    except MissingDependencyError:
        return False
    return True


class _Api:
    """One initialised ``TessBaseAPI``; lent to one caller at a time by ``_engine``."""

    def __init__(self, lib: ctypes.CDLL, handle: int) -> None:
        self.lib = lib
        self.handle: int | None = handle

    def close(self) -> None:
        if self.handle is not None:
            self.lib.TessBaseAPIEnd(self.handle)
            self.lib.TessBaseAPIDelete(self.handle)
            self.handle = None


_Key = tuple[str, str | None, int | None, tuple[tuple[str, str], ...]]

# Idle engines by configuration.  A page borrows one (or initialises one when all are busy)
# and gives it back, so a process holds as many engines as pages it reads at once, whatever
# threads come and go (the pipeline makes a thread pool per document).
_pool_lock = threading.Lock()
_idle: dict[_Key, list[_Api]] = {}
_MAX_IDLE = 8  # per configuration; more are closed when given back
_init_lock = threading.Lock()  # initialisation touches Tesseract's shared model cache


def _close_all() -> None:
    with _pool_lock:
        apis = [a for lst in _idle.values() for a in lst]
        _idle.clear()
    for api in apis:
        api.close()


def _forget_after_fork() -> None:
    # A forked child must not free or share the parent's engines: it starts with none.
    global _pool_lock, _init_lock, _load_lock
    _idle.clear()
    _pool_lock = threading.Lock()
    _init_lock = threading.Lock()
    _load_lock = threading.Lock()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_forget_after_fork)


def idle_engines() -> int:
    """Number of initialised engines waiting for a page (all configurations).

    Examples
    --------
    >>> idle_engines() >= 0
    True
    """
    with _pool_lock:
        return sum(len(v) for v in _idle.values())


def _c_strings(items: list[str]) -> Any:
    arr = (ctypes.c_char_p * max(1, len(items)))()
    for i, s in enumerate(items):
        arr[i] = s.encode("utf-8")
    return arr


def _new_api(lib: ctypes.CDLL, key: _Key) -> _Api:
    lang, tessdata_dir, oem, variables = key
    # Tesseract's own messages go to its debug file, not to the operator's terminal.
    names = ["debug_file", *(n for n, _ in variables)]
    values = [os.devnull, *(v for _, v in variables)]
    with _init_lock:
        handle = lib.TessBaseAPICreate()
        if not handle:
            raise OcrError("Tesseract could not allocate an engine (out of memory?)")
        rc = lib.TessBaseAPIInit4(
            handle,
            None if tessdata_dir is None else tessdata_dir.encode("utf-8"),
            lang.encode("utf-8"),
            _OEM_DEFAULT if oem is None else oem,
            None,
            0,
            _c_strings(names),
            _c_strings(values),
            len(names),
            0,
        )
    if rc != 0:
        lib.TessBaseAPIDelete(handle)
        packages = " ".join("tesseract-ocr-" + p.lower().replace("_", "-") for p in lang.split("+"))
        raise MissingDependencyError(
            f"Tesseract could not load the language data for {lang!r}"
            + (f" from {tessdata_dir!r}" if tessdata_dir else "")
            + f"; install it with: apt-get install {packages}"
        )
    return _Api(lib, handle)


@contextmanager
def _engine(key: _Key, thread_limit: int) -> Iterator[_Api]:
    lib = require(thread_limit)
    with _pool_lock:
        idle = _idle.get(key)
        api = idle.pop() if idle else None
    if api is None:
        api = _new_api(lib, key)
    try:
        yield api
    except BaseException:
        api.close()  # an engine whose page failed is not trusted with the next one
        raise
    with _pool_lock:
        idle = _idle.setdefault(key, [])
        if len(idle) < _MAX_IDLE:
            idle.append(api)
            api = None
    if api is not None:
        api.close()


_TSV_HEADER_LINE = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\t"
    "left\ttop\twidth\theight\tconf\ttext\n"
)


def recognize_tsv(
    img: NDArray[np.uint8],
    lang: str,
    *,
    dpi: float | None,
    psm: int | None,
    timeout: float,
    tessdata_dir: str | None,
    oem: int | None,
    variables: tuple[tuple[str, str], ...],
    thread_limit: int,
) -> str:
    """TSV of one page, with the header line the ``tesseract`` program writes.

    ``img`` must be a C-contiguous uint8 (H, W) array; it is not copied.

    Raises
    ------
    MissingDependencyError
        The library or the language data is missing.
    OcrError
        Recognition failed or did not finish within ``timeout`` seconds.

    Examples
    --------
    >>> import numpy as np
    >>> tsv = recognize_tsv(np.full((60, 60), 255, np.uint8), "eng", dpi=300, psm=None,
    ...                     timeout=30, tessdata_dir=None, oem=None, variables=(),
    ...                     thread_limit=1)                          # doctest: +SKIP
    >>> tsv.splitlines()[0].split("\\t")[:2]                          # doctest: +SKIP
    ['level', 'page_num']
    """
    key: _Key = (lang, tessdata_dir, oem, variables)
    with _engine(key, thread_limit) as api:
        raw = _read(api, img, lang, dpi=dpi, psm=psm, timeout=timeout)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OcrError(f"tesseract output is not UTF-8 (byte {exc.start})") from exc
    return _TSV_HEADER_LINE + text


def _read(
    api: _Api,
    img: NDArray[np.uint8],
    lang: str,
    *,
    dpi: float | None,
    psm: int | None,
    timeout: float,
) -> bytes:
    lib, handle = api.lib, api.handle
    h, w = img.shape
    monitor = lib.TessMonitorCreate()
    t0 = time.monotonic()
    try:
        lib.TessBaseAPISetPageSegMode(handle, _PSM_AUTO if psm is None else psm)
        lib.TessBaseAPISetImage(handle, img.ctypes.data, w, h, 1, w)
        if dpi is not None:
            lib.TessBaseAPISetSourceResolution(handle, round(dpi))
        lib.TessMonitorSetDeadlineMSecs(monitor, max(1, int(timeout * 1000)))
        rc = lib.TessBaseAPIRecognize(handle, monitor)
        if rc != 0:
            if time.monotonic() - t0 >= timeout:
                raise OcrError(
                    f"tesseract did not finish within the timeout of {timeout:g} s "
                    f"(page {w}x{h} px, lang={lang!r}); it was stopped"
                )
            raise OcrError(f"tesseract could not recognise the page (status {rc})")
        ptr = lib.TessBaseAPIGetTsvText(handle, 0)
        if not ptr:
            raise OcrError("tesseract returned no TSV text")
        try:
            return ctypes.string_at(ptr)
        finally:
            lib.TessDeleteText(ptr)
    finally:
        lib.TessBaseAPIClear(handle)
        lib.TessMonitorDelete(monitor)
