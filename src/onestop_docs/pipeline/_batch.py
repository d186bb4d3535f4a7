"""Batches of documents on any executor (process pool, Dask client), resumable."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidArgumentError, OnestopError
from ._record import (
    _ensure_logged,
    check_existing_record,
    digitize,
    is_record_complete,
    load_record,
)
from ._reuse import batch_duplicates, ensure_stored, resolve_target
from ._types import DigitizeOptions, SignerSpec, record_id_for

# --- batches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitizeJob:
    """One document of a batch; picklable so it can run in another process or on a cluster."""

    inputs: tuple[str, ...]
    out_dir: str
    dossier_code: str
    agency: str
    component: int = 1
    officer: SignerSpec | None = None
    officer_name: str | None = None
    organisation: SignerSpec | None = None
    agency_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    options: DigitizeOptions = field(default_factory=DigitizeOptions)

    @property
    def record_id(self) -> str:
        """The record name this job produces."""
        return record_id_for(self.dossier_code, self.component)


@dataclass(frozen=True)
class JobOutcome:
    """The result of one job: ``status`` is "done", "skipped" (already complete) or "failed"."""

    record_id: str
    status: Literal["done", "skipped", "failed"]
    directory: str | None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    pages: int = 0
    record: dict[str, Any] | None = None
    log_index: int | None = None  # set by digitize_batch when it is given the station's log


@dataclass(frozen=True)
class BatchReport:
    """Outcomes of a batch, in job order.

    ``duplicates`` lists pages of one record of the batch that are the same page as a page of
    an earlier record of the batch (e.g. one paper scanned into components .001 and .003).
    """

    outcomes: tuple[JobOutcome, ...]
    seconds: float
    duplicates: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return all(o.status != "failed" for o in self.outcomes)

    def count(self, status: str) -> int:
        """Number of jobs with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)


def _run_job(job: DigitizeJob, pages: Any = None) -> JobOutcome:
    """Worker entry point (module level so process pools and Dask can pickle it).

    ``pages``, a queue, receives ``(record_id, page number)`` as each page is done.
    """
    t = time.perf_counter()
    on_page = None
    if pages is not None:
        record_id = job.record_id

        def on_page(number: int, _report: Any) -> None:
            pages.put((record_id, number))

    final = Path(job.out_dir) / job.record_id
    try:
        if final.exists() and is_record_complete(final):
            check_existing_record(final, officer=job.officer, organisation=job.organisation)
            rec = load_record(final)
            ensure_stored(resolve_target(None, job.options.reuse_store), final)
            return JobOutcome(
                job.record_id,
                "skipped",
                str(final),
                seconds=time.perf_counter() - t,
                pages=len(rec.pages),
            )
        rec = digitize(
            list(job.inputs),
            out_dir=job.out_dir,
            dossier_code=job.dossier_code,
            agency=job.agency,
            component=job.component,
            officer=job.officer,
            officer_name=job.officer_name,
            organisation=job.organisation,
            agency_name=job.agency_name,
            metadata=job.metadata,
            options=job.options,
            on_page=on_page,
        )
        return JobOutcome(
            job.record_id,
            "done",
            str(rec.directory),
            seconds=time.perf_counter() - t,
            pages=len(rec.pages),
            record=rec.to_json(),
        )
    except Exception as exc:  # a failing document is recorded and the batch goes on
        return JobOutcome(
            job.record_id,
            "failed",
            None,
            error=str(exc),
            error_type=type(exc).__name__,
            seconds=time.perf_counter() - t,
        )


def digitize_batch(
    jobs: Iterable[DigitizeJob],
    *,
    executor: Executor | Any | None = None,
    log: Any | None = None,
    on_progress: Callable[[int, int, JobOutcome], None] | None = None,
    check_signers: bool = True,
    on_page: Callable[[str, int], None] | None = None,
) -> BatchReport:
    """Run many documents in parallel; resumable, and one failure never stops the batch.

    Parameters
    ----------
    jobs : iterable of DigitizeJob
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Default: a process pool sized to the CPU count.  Anything with ``submit(fn, arg)``
        returning a future with ``result()`` works, so a Dask ``Client`` runs the batch on a
        cluster unchanged (the output folder must then be shared storage).
    log : onestop_docs.integrity.TransparencyLog, optional
        The station's log.  Only this (driver) process writes it: each finished or skipped
        record is appended here as its job completes, never by the workers.
    on_progress : callable, optional
        ``on_progress(done, total, outcome)`` after each job finishes.
    check_signers : bool, default True
        Open every distinct :class:`SignerSpec` of the jobs once, here, before any page work:
        a wrong password or a missing key file would fail every job, after its pages.  Turn
        off when the key files exist only on the cluster's workers.
    on_page : callable, optional
        ``on_page(record_id, page_number)`` in this thread as each page of a document is done
        (a progress bar that counts pages).  Works with process and thread pools; other
        executors (Dask) report per job only.

    Returns
    -------
    BatchReport
        One :class:`JobOutcome` per job, in job order.

    Raises
    ------
    SignatureError, InvalidArgumentError
        From ``check_signers``: a signer cannot be opened (nothing was started).

    Examples
    --------
    >>> digitize_batch([]).outcomes
    ()
    """
    job_list = list(jobs)
    t = time.perf_counter()
    if not job_list:
        return BatchReport((), 0.0)
    if check_signers:
        checked: list[SignerSpec] = []
        for spec in (s for j in job_list for s in (j.officer, j.organisation)):
            if isinstance(spec, SignerSpec) and spec not in checked:
                spec.check()
                checked.append(spec)
    ids = [j.record_id for j in job_list]
    if len(set(ids)) != len(ids):
        raise InvalidArgumentError("two jobs produce the same record id (dossier code + component)")
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=min(len(job_list), os.cpu_count() or 1))
    assert executor is not None
    manager = None
    pages: Any = None
    if on_page is not None and isinstance(executor, ThreadPoolExecutor):
        pages = queue.Queue()
    elif on_page is not None and isinstance(executor, ProcessPoolExecutor):
        manager = multiprocessing.Manager()
        pages = manager.Queue()

    def drain() -> None:
        while pages is not None and on_page is not None:
            try:
                record_id, number = pages.get_nowait()
            except queue.Empty:
                return
            on_page(record_id, number)

    try:
        futures: list[Future[JobOutcome]] = [executor.submit(_run_job, j, pages) for j in job_list]
        outcomes: list[JobOutcome | None] = [None] * len(job_list)
        pending = dict(enumerate(futures))
        done = 0
        while pending:
            drain()
            for i, fut in list(pending.items()):
                if not fut.done():
                    continue
                del pending[i]
                try:
                    outcome = fut.result()
                except Exception as exc:  # worker crashed (e.g. killed): record it
                    outcome = JobOutcome(
                        ids[i], "failed", None, error=str(exc), error_type=type(exc).__name__
                    )
                if log is not None and outcome.directory is not None:
                    try:
                        index = _ensure_logged(load_record(outcome.directory), log)
                        outcome = dataclasses.replace(outcome, log_index=index)
                    except OnestopError as exc:
                        outcome = dataclasses.replace(
                            outcome,
                            status="failed",
                            error=f"transparency log: {exc}",
                            error_type=type(exc).__name__,
                        )
                outcomes[i] = outcome
                done += 1
                if on_progress is not None:
                    on_progress(done, len(job_list), outcome)
            if pending:
                time.sleep(0.05)
        drain()
    finally:
        if own:
            executor.shutdown(wait=True)
        if manager is not None:
            manager.shutdown()
    final = tuple(o for o in outcomes if o is not None)
    dirs = [o.directory for o in final if o.directory is not None]
    return BatchReport(final, time.perf_counter() - t, batch_duplicates(dirs))
