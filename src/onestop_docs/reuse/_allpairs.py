"""All-pairs duplicate search over a whole store, partitioned for a Dask cluster."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validate import check_int
from ..dedup import Verdict
from ..errors import InvalidArgumentError
from . import keys as _keys
from ._store import ReuseStore

__all__ = ["DuplicatePair", "archive_duplicates"]


@dataclass(frozen=True)
class DuplicatePair:
    """Two stored pages that are the same paper: ``(record_id, page)`` was added after
    ``(earlier_record_id, earlier_page)``.

    Attributes
    ----------
    record_id, page : str, int
    earlier_record_id, earlier_page : str, int
    candidate_distance : int
    verdict : Verdict
        :func:`onestop_docs.dedup.match_keys` of the later page against the earlier one.
    """

    record_id: str
    page: int
    earlier_record_id: str
    earlier_page: int
    candidate_distance: int
    verdict: Verdict


Block = tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.uint8]]  # seqs, cands, flips


def _block_pairs(location: str, a: Block, b: Block, same: bool) -> list[DuplicatePair]:
    """Verified pairs between the pages of block ``a`` and block ``b`` (a task)."""
    from ..dedup import HashIndex

    seq_a, cand_a, flip_a = a
    seq_b, cand_b, flip_b = b
    index = HashIndex(256)
    index.add(seq_b, cand_b)
    r = _keys.CANDIDATE_RADIUS
    pairs: dict[tuple[int, int], int] = {}

    def note(x: int, y: int, d: int) -> None:
        if x == y:
            return
        key = (max(x, y), min(x, y))  # (later, earlier)
        pairs[key] = min(d, pairs.get(key, d))

    # both orientations of a against b; b's flips against a cover a pair seen only that way
    for hits_c, hits_f, s in zip(
        index.radius_batch(cand_a, r), index.radius_batch(flip_a, r), seq_a.tolist()
    ):
        for t, d in hits_c:
            note(s, t, d)
        for t, d in hits_f:
            note(s, t, d)
    if not same:
        back = HashIndex(256)
        back.add(seq_a, cand_a)
        for hits, s in zip(back.radius_batch(flip_b, r), seq_b.tolist()):
            for t, d in hits:
                note(s, t, d)
    if not pairs:
        return []
    store = ReuseStore(location, create=False)
    try:
        need = sorted({x for p in pairs for x in p})
        rows = {p.seq: (p, rec) for p, rec in store._db.pages_by_seq(need)}
        out = []
        for (later, earlier), dist in sorted(pairs.items()):
            pl, pe = rows[later][0], rows[earlier][0]
            assert pl.key is not None and pe.key is not None
            assert pl.key_version is not None and pe.key_version is not None
            v = _keys.verify_stored(
                (pl.key_version, pl.key, f"{pl.record_id} p{pl.page}"),
                (pe.key_version, pe.key, f"{pe.record_id} p{pe.page}"),
            )
            if v.duplicate:
                out.append(DuplicatePair(pl.record_id, pl.page, pe.record_id, pe.page, dist, v))
        return out
    finally:
        store.close()


def archive_duplicates(
    location: str | os.PathLike[str],
    *,
    client: Any | None = None,
    block_rows: int = 50_000,
) -> list[DuplicatePair]:
    """Every pair of stored pages that are the same paper (deduplicating an archive).

    The keyed pages are cut into blocks of ``block_rows`` in store order; one task per pair
    of blocks ``(i, j)``, ``i <= j``, finds the candidate pairs between them (both
    orientations, within :data:`onestop_docs.dedup.CANDIDATE_RADIUS`) and verifies them.
    Every pair of pages falls in exactly one task, so the result does not depend on the
    partitioning or on where the tasks run: ``client=None`` runs them here, a Dask
    ``distributed.Client`` (or any executor with ``submit``) on a cluster whose workers can
    open ``location`` (a PostgreSQL DSN, or a SQLite file on shared storage).

    Returns
    -------
    list of DuplicatePair
        Sorted by (record id, page, earlier record id, earlier page).

    Raises
    ------
    ReuseStoreError
        The store cannot be opened or holds a damaged key.
    """
    loc = os.fspath(location)
    check_int(block_rows, "block_rows", 1)
    with ReuseStore(loc, create=False) as store:
        rows = store._db.candidates_all()
    if not rows:
        return []
    seqs = np.fromiter((s for s, _, _ in rows), np.int64, len(rows))
    cands = np.frombuffer(b"".join(c for _, c, _ in rows), np.uint8).reshape(-1, 32)
    flips = np.frombuffer(b"".join(f for _, _, f in rows), np.uint8).reshape(-1, 32)
    blocks: list[Block] = [
        (seqs[i : i + block_rows], cands[i : i + block_rows], flips[i : i + block_rows])
        for i in range(0, len(rows), block_rows)
    ]
    tasks = [(i, j) for i in range(len(blocks)) for j in range(i, len(blocks))]
    if client is None:
        parts = [_block_pairs(loc, blocks[i], blocks[j], i == j) for i, j in tasks]
    else:
        if not hasattr(client, "submit"):
            raise InvalidArgumentError("client must have submit() (a Dask Client or an Executor)")
        futures = [
            client.submit(_block_pairs, loc, blocks[i], blocks[j], i == j, pure=False)
            if _is_dask(client)
            else client.submit(_block_pairs, loc, blocks[i], blocks[j], i == j)
            for i, j in tasks
        ]
        parts = [f.result() for f in futures]
    out = [p for part in parts for p in part]
    out.sort(key=lambda p: (p.record_id, p.page, p.earlier_record_id, p.earlier_page))
    return out


def _is_dask(client: Any) -> bool:
    return type(client).__module__.startswith("distributed")
