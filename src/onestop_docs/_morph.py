"""Binary morphology on small numpy masks, shared by the modules that need it (capture,
dedup).  Masks here are reduced images (about 100 dpi), so numpy shifts are fast enough."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def dilate3x3(mask: NDArray[np.bool_], times: int = 1) -> NDArray[np.bool_]:
    """``mask`` grown by one pixel in all eight directions, ``times`` times (a new array).

    Examples
    --------
    >>> m = np.zeros((5, 5), bool); m[2, 2] = True
    >>> int(dilate3x3(m).sum()), int(dilate3x3(m, 2).sum())
    (9, 25)
    """
    out: NDArray[np.bool_] = np.array(mask, dtype=bool)
    for _ in range(times):
        prev = out.copy()
        out[1:] |= prev[:-1]
        out[:-1] |= prev[1:]
        row = out.copy()
        out[:, 1:] |= row[:, :-1]
        out[:, :-1] |= row[:, 1:]
    return out
