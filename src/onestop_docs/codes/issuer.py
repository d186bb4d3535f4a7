"""Issuers that hand out codes from a persistent :class:`~onestop_docs.codes.stores.CodeStore`.

* :class:`DossierCodeIssuer`: mã số hồ sơ, sequence restarting each day (Vietnam time) per
  receiving agency (TT 01/2018/TT-VPCP Điều 19; NĐ 61/2018 Điều 26 "cấp tự động").
* :class:`DocumentNumberIssuer`: số văn bản, restarting at 01 each year per issuer
  (NĐ 30/2020/NĐ-CP Điều 15).
* :class:`DigitizationCodeIssuer`: mã kết quả số hóa from a
  :class:`~onestop_docs.codes.digitization.DigitizationCodeScheme`.

All issuers are thread-safe (the store serialises), process-safe and crash-safe: a value is
used only after the store committed it, so a crash can leave a gap but never a duplicate.
The clock is injectable so that tests (and replays) can pin the time; it must return an
*aware* datetime, which is converted to Asia/Ho_Chi_Minh, whatever the machine's time zone.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Callable
from typing import Final

from .._validate import check_int
from ..errors import InvalidArgumentError, SequenceExhaustedError
from ..types import VN_TZ
from .agency import AgencyId
from .digitization import DigitizationCode, DigitizationCodeScheme
from .dossier import MAX_SEQUENCE, DossierCode
from .notation import DocumentNotation, NotationRules
from .stores import CodeStore

__all__ = [
    "VIETNAM_TZ",
    "Clock",
    "DigitizationCodeIssuer",
    "DocumentNumberIssuer",
    "DossierCodeIssuer",
    "vietnam_now",
]

#: Vietnam's time zone, Asia/Ho_Chi_Minh (UTC+07:00, no daylight saving since 1975): the
#: library's one definition, :data:`onestop_docs.types.VN_TZ`.
VIETNAM_TZ: Final = VN_TZ

Clock = Callable[[], _dt.datetime]
"""A zero-argument callable returning the current time as an aware datetime."""


def vietnam_now() -> _dt.datetime:
    """Current time in Asia/Ho_Chi_Minh (the default clock)."""
    return _dt.datetime.now(VIETNAM_TZ)


def _local(moment: _dt.datetime | None, clock: Clock, what: str) -> _dt.datetime:
    value = clock() if moment is None else moment
    if not isinstance(value, _dt.datetime):
        raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{what} must be timezone-aware (a naive time would be read in the machine's zone), "
            f"got {value.isoformat()}"
        )
    return value.astimezone(VIETNAM_TZ)


def _check_day(day: _dt.date) -> None:
    if not 2000 <= day.year <= 2099:
        raise InvalidArgumentError(f"receipt date {day} is outside 2000-2099 (YY = 20YY)")


def _check_block(n: int) -> None:
    check_int(n, "n", 1)


class DossierCodeIssuer:
    """Issue dossier codes for one receiving agency (Hệ thống một cửa "cấp tự động").

    Parameters
    ----------
    agency : AgencyId or str
        Identifier of the receiving body (cơ quan có thẩm quyền tiếp nhận).
    store : CodeStore
        Shared counter store (:class:`SQLiteCodeStore`, :class:`PostgresCodeStore`).
    clock : callable, optional
        Returns the current aware datetime; default :func:`vietnam_now`.
    max_sequence : int, default 9999
        Last sequence number of a day.  Past it, :meth:`issue` raises
        :class:`~onestop_docs.errors.SequenceExhaustedError` (the law is silent on overflow,
        and a fifth digit would break every validator).  Lower it to reserve the top of the
        range for a paper register fallback (NĐ 61/2018 Điều 39).

    prefetch : int, default 1
        Sequence numbers reserved per store transaction.  1 (the default) numbers dossiers in
        the order they are received across all desks, at one store transaction per code (the
        SQLite store fsyncs once per ``reserve`` codes, not per code).
        ``N > 1`` reserves N numbers at a time for this issuer object (N times fewer
        commits): still never a duplicate, but numbers left in a block when the process
        exits, crashes or the day changes become gaps, and desks sharing a store interleave
        out of receipt order.

    Raises
    ------
    InvalidCodeError
        ``agency`` is malformed.
    InvalidArgumentError
        Bad ``store``, ``clock`` or ``max_sequence``.

    Examples
    --------
    >>> import datetime, tempfile, os
    >>> from onestop_docs.codes import SQLiteCodeStore
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = SQLiteCodeStore(os.path.join(tmp.name, "codes.sqlite"))
    >>> utc = datetime.timezone.utc
    >>> clock = lambda: datetime.datetime(2025, 6, 30, 16, 59, tzinfo=utc)  # 23:59 in Vietnam
    >>> issuer = DossierCodeIssuer("H27.01", store, clock=clock)
    >>> str(issuer.issue()), str(issuer.issue())
    ('H27.01-250630-0001', 'H27.01-250630-0002')
    >>> str(issuer.issue(datetime.datetime(2025, 6, 30, 17, 0, tzinfo=utc)))  # 00:00 next day
    'H27.01-250701-0001'
    >>> store.close(); tmp.cleanup()
    """

    NAMESPACE: Final = "dossier"

    def __init__(
        self,
        agency: AgencyId | str,
        store: CodeStore,
        *,
        clock: Clock | None = None,
        max_sequence: int = MAX_SEQUENCE,
        prefetch: int = 1,
    ) -> None:
        self.agency = agency if isinstance(agency, AgencyId) else AgencyId.parse(agency)
        if not isinstance(store, CodeStore):
            raise InvalidArgumentError(
                f"store must implement CodeStore (allocate/current/close), got {type(store).__name__}"
            )
        if clock is not None and not callable(clock):
            raise InvalidArgumentError("clock must be a callable returning an aware datetime")
        check_int(max_sequence, "max_sequence", 1, MAX_SEQUENCE)
        check_int(prefetch, "prefetch", 1, 1000)
        self.store = store
        self.clock: Clock = clock or vietnam_now
        self.max_sequence = max_sequence
        self.prefetch = prefetch
        self._lock = threading.Lock()
        # Prefetched block: (pid, day, next seq, last seq).  The pid guards against fork():
        # a child must never hand out numbers its parent reserved.
        self._block: tuple[int, _dt.date, int, int] | None = None

    def receipt_date(self, received_at: _dt.datetime | None = None) -> _dt.date:
        """The receipt date in Vietnam for ``received_at`` (default: the clock's now)."""
        return _local(received_at, self.clock, "received_at").date()

    def issue(self, received_at: _dt.datetime | None = None) -> DossierCode:
        """Issue the next code for the receipt time ``received_at`` (default: now).

        Raises
        ------
        SequenceExhaustedError
            ``max_sequence`` codes were already issued for that agency and day.
        CodeStoreError
            The store failed; no code was issued (or a gap was left).
        """
        if self.prefetch == 1:
            return self.issue_block(1, received_at)[0]
        day = self.receipt_date(received_at)
        pid = os.getpid()
        with self._lock:
            block = self._block
            if block is None or block[0] != pid or block[1] != day or block[2] > block[3]:
                last, granted = self._allocate_prefetch(day)
                block = (pid, day, last - granted + 1, last)
            seq = block[2]
            self._block = (pid, day, seq + 1, block[3])
        return DossierCode._trusted(self.agency, day, seq)

    def _allocate_prefetch(self, day: _dt.date) -> tuple[int, int]:
        """(last value, block size) of a newly reserved block."""
        _check_day(day)
        key = (self.NAMESPACE, self.agency.text, day.isoformat())
        count = self.prefetch
        try:
            last = self.store.allocate(*key, limit=self.max_sequence, count=count)
        except SequenceExhaustedError:
            # Fewer than `prefetch` numbers left today: take them one at a time.
            count = 1
            last = self.store.allocate(*key, limit=self.max_sequence, count=count)
        return last, count

    def issue_block(self, n: int, received_at: _dt.datetime | None = None) -> list[DossierCode]:
        """Reserve ``n`` consecutive codes in one transaction (batch scanning).

        Raises
        ------
        SequenceExhaustedError
            Fewer than ``n`` sequence numbers are left that day; nothing is reserved.
        """
        _check_block(n)
        day = self.receipt_date(received_at)
        _check_day(day)
        last = self.store.allocate(
            self.NAMESPACE, self.agency.text, day.isoformat(), limit=self.max_sequence, count=n
        )
        return [
            DossierCode._trusted(self.agency, day, seq) for seq in range(last - n + 1, last + 1)
        ]

    def issued_today(self, at: _dt.datetime | None = None) -> int:
        """How many sequence numbers were consumed on the Vietnam date of ``at`` (default now)."""
        day = self.receipt_date(at)
        return self.store.current(self.NAMESPACE, self.agency.text, day.isoformat())


class DocumentNumberIssuer:
    """Issue document numbers (số văn bản) that restart at 01 each year per issuer.

    NĐ 30/2020/NĐ-CP Điều 15: numbers start at 01 on 1 January and are unique within a year
    for an issuer.  By default one sequence serves all document types of the issuer (the
    văn thư's common register); ``per_type=True`` keeps a sequence per type abbreviation.

    Parameters
    ----------
    issuer : str
        Issuer abbreviation as written in the notation (``"UBND"``, ``"STTTT"``); it is also the
        counter scope, so use a unique value per organisation (e.g. ``"H27:UBND"`` in
        ``scope``).
    store : CodeStore
    scope : str, optional
        Counter key; defaults to ``issuer``.  Set it when two organisations share an
        abbreviation on one store.
    clock : callable, optional
        Aware-datetime clock; the year is taken in Vietnam's time zone.
    per_type : bool, default False
    units : tuple of str, default ()
        Extra notation groups after the issuer (drafting unit).
    max_number : int, default 99999
    rules : NotationRules, optional
        Accepted type abbreviations (default: NĐ 30/2020 Phụ lục III and normative types).

    Examples
    --------
    >>> import datetime, tempfile, os
    >>> from onestop_docs.codes import SQLiteCodeStore
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = SQLiteCodeStore(os.path.join(tmp.name, "codes.sqlite"))
    >>> tz = datetime.timezone(datetime.timedelta(hours=7))
    >>> clock = lambda: datetime.datetime(2021, 6, 30, 9, 0, tzinfo=tz)
    >>> numbers = DocumentNumberIssuer("UBND", store, clock=clock)
    >>> str(numbers.issue("KH")), str(numbers.issue("QĐ"))
    ('01/KH-UBND', '02/QĐ-UBND')
    >>> str(numbers.issue(None))  # Công văn: no type abbreviation
    '03/UBND'
    >>> store.close(); tmp.cleanup()
    """

    NAMESPACE: Final = "document-number"

    def __init__(
        self,
        issuer: str,
        store: CodeStore,
        *,
        scope: str | None = None,
        clock: Clock | None = None,
        per_type: bool = False,
        units: tuple[str, ...] = (),
        max_number: int = 99999,
        rules: NotationRules | None = None,
    ) -> None:
        self.rules = rules or NotationRules()
        # Validate the issuer and units by formatting a notation with them.
        DocumentNotation(1, None, None, issuer, tuple(units), rules=self.rules)
        if not isinstance(store, CodeStore):
            raise InvalidArgumentError(
                f"store must implement CodeStore, got {type(store).__name__}"
            )
        check_int(max_number, "max_number", 1)
        self.issuer = issuer
        self.units = tuple(units)
        self.scope = issuer if scope is None else scope
        self.store = store
        self.clock: Clock = clock or vietnam_now
        self.per_type = per_type
        self.max_number = max_number

    def issue(
        self,
        type_abbrev: str | None,
        *,
        issued_at: _dt.datetime | None = None,
        with_year: bool = False,
    ) -> DocumentNotation:
        """Next number for a document of ``type_abbrev`` (None for a Công văn).

        Parameters
        ----------
        type_abbrev : str or None
            Abbreviation from NĐ 30/2020 Phụ lục III (``"QĐ"``, ``"KH"``, ...).
        issued_at : datetime, optional
            Signing time; the year is taken in Vietnam.  Default: the clock.
        with_year : bool, default False
            Write the year in the notation (normative documents, ``09/2025/QĐ-TTg``).

        Raises
        ------
        InvalidCodeError
            ``type_abbrev`` is not a known abbreviation.
        SequenceExhaustedError
            ``max_number`` documents were already numbered that year.
        """
        year = _local(issued_at, self.clock, "issued_at").year
        # Validate before consuming a number.
        DocumentNotation(
            1, year if with_year else None, type_abbrev, self.issuer, self.units, rules=self.rules
        )
        scope = self.scope
        if self.per_type:
            scope = f"{scope}\x1f{type_abbrev or ''}"
        number = self.store.allocate(self.NAMESPACE, scope, str(year), limit=self.max_number)
        return DocumentNotation(
            number,
            year if with_year else None,
            type_abbrev,
            self.issuer,
            self.units,
            rules=self.rules,
        )


class DigitizationCodeIssuer:
    """Issue digitized-document codes (mã kết quả số hóa) from a scheme and a store.

    Parameters
    ----------
    scheme : DigitizationCodeScheme
    store : CodeStore

    Examples
    --------
    >>> import tempfile, os
    >>> from onestop_docs.codes import SQLiteCodeStore, DigitizationCodeScheme
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = SQLiteCodeStore(os.path.join(tmp.name, "codes.sqlite"))
    >>> issuer = DigitizationCodeIssuer(DigitizationCodeScheme(), store)
    >>> str(issuer.issue(owner_id="001203004567", type_code="KQ.G15.000031"))
    '001203004567.KQ.G15.000031.01'
    >>> str(issuer.issue(owner_id="001203004567", type_code="KQ.G15.000031"))
    '001203004567.KQ.G15.000031.02'
    >>> store.close(); tmp.cleanup()
    """

    NAMESPACE: Final = "digitization"

    def __init__(self, scheme: DigitizationCodeScheme, store: CodeStore) -> None:
        if not isinstance(scheme, DigitizationCodeScheme):
            raise InvalidArgumentError(
                f"scheme must be a DigitizationCodeScheme, got {type(scheme).__name__}"
            )
        if not isinstance(store, CodeStore):
            raise InvalidArgumentError(
                f"store must implement CodeStore, got {type(store).__name__}"
            )
        self.scheme = scheme
        self.store = store

    def issue(self, **fields: str) -> DigitizationCode:
        """Next code for ``fields`` (the template's placeholders except ``counter``).

        Raises
        ------
        InvalidCodeError
            A field does not match its pattern.
        InvalidArgumentError
            A placeholder is missing or unknown.
        SequenceExhaustedError
            The counter for this owner passed ``scheme.max_counter``.
        """
        self.scheme.format(counter=1, **fields)  # validate before consuming a number
        counter = self.store.allocate(
            self.NAMESPACE,
            self.scheme.counter_key(**fields),
            "",
            limit=self.scheme.max_counter,
        )
        return self.scheme.build(counter=counter, **fields)
