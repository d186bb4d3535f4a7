"""Reading order of Tesseract's text lines: top to bottom, column by column, forms by row.

Tesseract's page segmentation (``--psm 3``) cuts a page into blocks and reads them one after
the other, and on administrative pages that order is often not the page's:

* the label column and the value column of a form's field table ("Họ và tên:" |
  "NGUYỄN VĂN AN") become two blocks, so every label comes out before every value (the
  two-column header, agency | national motto, is cut the same way);
* a block is read after blocks that lie below it (the motto's second line after the
  "Kính gửi" line).

:func:`reading_order` first joins blocks that stand side by side *and whose lines sit on
shared baselines* into rows (a form row is read label, value), then orders the rows and
lines after the rules of Breuel's reading-order sort (T. M. Breuel, "High Performance
Document Layout Analysis", SDIUT 2003; used by OCRopus): a line comes before a line it
overlaps horizontally and lies above, and a block before a block beside it to its right
(independent columns are read one after the other).  Lines of one block keep Tesseract's
order, and lines the rules do not order keep Tesseract's order too.

Everything here works on boxes of the image Tesseract read (deskewed, so rows are
horizontal); callers are in :mod:`onestop_docs.ocr`.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

#: Lines of joined blocks are one row when their vertical extents overlap by at least this
#: fraction of the smaller height (evalkit's ``rowmajor_text`` uses the same rule).
ROW_OVERLAP = 0.5
#: Two lines of side-by-side blocks are partners (set on one baseline, as a label and its
#: value) when their vertical centres differ by at most this fraction of the smaller height.
#: Stricter than :data:`ROW_OVERLAP`: lines of two independent text columns overlap by half
#: their height about three times in four by chance (line pitch 1.3-1.5 heights), but have
#: centres this close less than half the time.
PARTNER_CENTRE_TOL = 0.3
#: Two side-by-side blocks are read by row when at least this fraction of the lines of each,
#: within the other's vertical extent, has a partner in the other block.
ROW_ALIGNED_SHARE = 0.75


def _partners(a: NDArray[np.int64], b: NDArray[np.int64]) -> bool:
    dc = abs(int(a[1]) + int(a[3]) - int(b[1]) - int(b[3])) / 2
    return bool(dc <= PARTNER_CENTRE_TOL * min(a[3] - a[1], b[3] - b[1]))


def _rows(boxes: NDArray[np.int64], idx: list[int]) -> list[list[int]]:
    """``idx`` grouped into rows, top to bottom, each row's lines left to right."""
    items = sorted(idx, key=lambda i: (boxes[i, 1] + boxes[i, 3]) / 2)
    rows: list[tuple[int, int, list[int]]] = []
    for i in items:
        y0, y1 = int(boxes[i, 1]), int(boxes[i, 3])
        if rows:
            ry0, ry1, members = rows[-1]
            if min(y1, ry1) - max(y0, ry0) >= ROW_OVERLAP * min(y1 - y0, ry1 - ry0):
                members.append(i)
                rows[-1] = (min(y0, ry0), max(y1, ry1), members)
                continue
        rows.append((y0, y1, [i]))
    return [sorted(members, key=lambda k: int(boxes[k, 0])) for _, _, members in rows]


def _row_groups(boxes: NDArray[np.int64], blocks: NDArray[np.int64]) -> list[list[int]]:
    """Tesseract's blocks in its order, side-by-side row-aligned ones joined (each a list of
    line indices)."""
    order_blocks: list[int] = []
    members: dict[int, list[int]] = {}
    for i in range(int(boxes.shape[0])):
        b = int(blocks[i])
        if b not in members:
            members[b] = []
            order_blocks.append(b)
        members[b].append(i)
    parent = {b: b for b in order_blocks}

    def find(b: int) -> int:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    for k, a in enumerate(order_blocks):
        for b in order_blocks[k + 1 :]:
            pair = _facing(boxes, members[a], members[b])
            if pair is None:
                continue
            ia, ib = pair
            ha = sum(any(_partners(boxes[i], boxes[j]) for j in members[b]) for i in ia)
            hb = sum(any(_partners(boxes[j], boxes[i]) for i in members[a]) for j in ib)
            if ha >= ROW_ALIGNED_SHARE * len(ia) and hb >= ROW_ALIGNED_SHARE * len(ib):
                parent[find(b)] = find(a)
    groups: dict[int, list[int]] = {}
    for b in order_blocks:
        groups.setdefault(find(b), []).extend(members[b])
    return list(groups.values())


def _extent(boxes: NDArray[np.int64], idx: list[int]) -> tuple[int, int, int, int]:
    return (
        int(boxes[idx, 0].min()),
        int(boxes[idx, 1].min()),
        int(boxes[idx, 2].max()),
        int(boxes[idx, 3].max()),
    )


def _facing(
    boxes: NDArray[np.int64], ma: list[int], mb: list[int]
) -> tuple[list[int], list[int]] | None:
    """The lines of two blocks that face each other, or ``None`` if the blocks are not side by
    side: each block's lines whose centre lies within the other's vertical extent, when
    there are such lines on both sides and they are disjoint in x (a heading or a wide
    line elsewhere in a block does not count)."""
    ya0, ya1 = int(boxes[ma, 1].min()), int(boxes[ma, 3].max())
    yb0, yb1 = int(boxes[mb, 1].min()), int(boxes[mb, 3].max())
    ia = [i for i in ma if yb0 <= (boxes[i, 1] + boxes[i, 3]) / 2 < yb1]
    ib = [j for j in mb if ya0 <= (boxes[j, 1] + boxes[j, 3]) / 2 < ya1]
    if not ia or not ib:
        return None
    ax0, bx0 = int(boxes[ia, 0].min()), int(boxes[ib, 0].min())
    ax1, bx1 = int(boxes[ia, 2].max()), int(boxes[ib, 2].max())
    return (ia, ib) if min(ax1, bx1) <= max(ax0, bx0) else None


def _sort(ub: NDArray[np.int64], group: NDArray[np.int64], left_of: NDArray[np.bool_]) -> list[int]:
    """Order of units with boxes ``ub`` in groups ``group`` (``left_of[g, h]``: group g
    stands beside group h, to its left).

    Constraints: a group's units in their given order; a unit before one it overlaps in x
    and whose centre is lower, unless they overlap in y by :data:`ROW_OVERLAP` of the
    smaller height; every unit of a group before those of a group beside it to
    its right.  The first ready unit in the given order goes first (Kahn's algorithm), so
    units no rule orders keep Tesseract's order.  When the rules contradict each other (a
    cycle) the last one is dropped, then the second; then the given order stands.
    """
    n = int(ub.shape[0])
    x0, y0, x1, y1 = ub[:, 0], ub[:, 1], ub[:, 2], ub[:, 3]
    yc = (y0 + y1) / 2.0
    chain = np.zeros((n, n), dtype=bool)
    same = group[:, None] == group[None, :]
    idx = np.arange(n)
    # Consecutive units of one group (units are in group order within a group).
    for g in np.unique(group):
        m = idx[group == g]
        chain[m[:-1], m[1:]] = True
    xover = np.minimum(x1[:, None], x1[None, :]) > np.maximum(x0[:, None], x0[None, :])
    # Lines on one row (a tall line of stamp junk beside a short one) are not "above" each
    # other: their centres say nothing, so Tesseract's order stands.
    yover = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    hmin = np.minimum((y1 - y0)[:, None], (y1 - y0)[None, :])
    above = xover & (yc[:, None] < yc[None, :]) & (yover < ROW_OVERLAP * hmin) & ~same
    beside_right = left_of[group[:, None], group[None, :]]
    for before in (chain | above | beside_right, chain | above, chain):
        order = _kahn(before)
        if order is not None:
            return order
    return list(range(n))  # unreachable: the chain alone follows the given order


def _kahn(before: NDArray[np.bool_]) -> list[int] | None:
    n = int(before.shape[0])
    indeg = before.sum(axis=0)
    ready = [i for i in range(n) if indeg[i] == 0]
    heapq.heapify(ready)
    out: list[int] = []
    while ready:
        a = heapq.heappop(ready)
        out.append(a)
        for b in np.nonzero(before[a])[0]:
            indeg[b] -= 1
            if indeg[b] == 0:
                heapq.heappush(ready, int(b))
    return out if len(out) == n else None


def reading_order(boxes: NDArray[np.int64], blocks: NDArray[np.int64]) -> list[int]:
    """Reading order of text lines, given their boxes and Tesseract block numbers.

    Parameters
    ----------
    boxes : ndarray of int, shape (N, 4)
        ``x0, y0, x1, y1`` of each line in the image Tesseract read, lines in Tesseract's order.
    blocks : ndarray of int, shape (N,)
        Tesseract's block number of each line.

    Returns
    -------
    list of int
        A permutation of ``range(N)``.  Blocks that stand side by side (disjoint in x,
        overlapping in y) with at least :data:`ROW_ALIGNED_SHARE` of each one's lines
        (within the other's vertical extent) on the baseline of a line of the other
        (centres within :data:`PARTNER_CENTRE_TOL` of the smaller height) are joined,
        transitively, and their lines grouped into rows (vertical overlap of
        :data:`ROW_OVERLAP` of the smaller height), each row read left to right.  Then a
        line (or row) comes before another of a different block that it overlaps in x and
        whose centre is lower, and a block before a block beside it to its right; lines of
        one block keep their order, and the rules leave everything else in Tesseract's
        order (when they contradict each other the block rule, then the line rule, is
        dropped).

    Examples
    --------
    >>> import numpy as np
    >>> boxes = np.array([[10, 0, 90, 20], [10, 40, 80, 60],      # labels (block 1)
    ...                   [200, 2, 300, 21], [200, 41, 260, 59],  # values (block 2)
    ...                   [10, 80, 300, 100]])                    # closing line (block 3)
    >>> reading_order(boxes, np.array([1, 1, 2, 2, 3]))
    [0, 2, 1, 3, 4]
    """
    n = int(boxes.shape[0])
    if n == 0:
        return []
    # Units: a row of joined blocks, or one line; a group: a joined set of blocks or one block.
    groups = sorted(_row_groups(boxes, blocks), key=min)
    units: list[list[int]] = []
    unit_group: list[int] = []
    for g, members in enumerate(groups):
        if len({int(blocks[i]) for i in members}) > 1:
            rows = _rows(boxes, members)
        else:
            rows = [[i] for i in members]
        units.extend(rows)
        unit_group.extend([g] * len(rows))
    ub = np.array([_extent(boxes, u) for u in units], dtype=np.int64)
    left_of = np.zeros((len(groups), len(groups)), dtype=bool)
    for g, mg in enumerate(groups):
        for h in range(g + 1, len(groups)):
            pair = _facing(boxes, mg, groups[h])
            if pair is not None:
                left = boxes[pair[0], 2].max() <= boxes[pair[1], 0].min()
                left_of[(g, h) if left else (h, g)] = True
    order = _sort(ub, np.array(unit_group, dtype=np.int64), left_of)
    return [i for k in order for i in units[k]]
