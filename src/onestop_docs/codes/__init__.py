"""Administrative codes: agency IDs, dossier codes and their crash-safe issuer, document and
digitization codes, QR payloads.

Implements the formats of regulations.md §1-3 and §7 (QĐ 20/2020/QĐ-TTg, QCVN 102:2016,
TT 01/2018/TT-VPCP, NĐ 30/2020/NĐ-CP, TT 01/2023/TT-VPCP); see ``docs/codes.md``.

Examples
--------
>>> from onestop_docs.codes import DossierCode, AgencyId
>>> code = DossierCode.parse("H56.14-240823-0001")
>>> code.agency.level1, code.date.isoformat(), code.seq
('H56', '2024-08-23', 1)
>>> AgencyId.parse("000.00.00.H27").form.value
'legacy'
"""

from __future__ import annotations

from .agency import (
    AGENCY_MAX_LENGTH,
    AgencyForm,
    AgencyId,
    AgencyMapping,
    Level1Entry,
    Level1Table,
    UnknownLevel1Warning,
    default_level1_table,
    set_default_level1_table,
)
from .digitization import DEFAULT_FIELD_PATTERNS, DigitizationCode, DigitizationCodeScheme
from .dossier import (
    DOSSIER_CODE_PATTERN,
    MAX_SEQUENCE,
    DossierCode,
    archive_file_name,
    parse_archive_file_name,
    validate_dossier_codes,
)
from .issuer import (
    VIETNAM_TZ,
    DigitizationCodeIssuer,
    DocumentNumberIssuer,
    DossierCodeIssuer,
    vietnam_now,
)
from .notation import (
    COPY_TYPES,
    DOCUMENT_TYPES,
    NORMATIVE_TYPES,
    DocumentNotation,
    NotationRules,
)
from .procedure import FieldCode, ProcedureCode, ResultTypeCode
from .qr import QR_VERSION, QrPayload, render_qr
from .stores import CodeStore, PostgresCodeStore, SQLiteCodeStore

__all__ = [
    "AGENCY_MAX_LENGTH",
    "COPY_TYPES",
    "DEFAULT_FIELD_PATTERNS",
    "DOCUMENT_TYPES",
    "DOSSIER_CODE_PATTERN",
    "MAX_SEQUENCE",
    "NORMATIVE_TYPES",
    "QR_VERSION",
    "VIETNAM_TZ",
    "AgencyForm",
    "AgencyId",
    "AgencyMapping",
    "CodeStore",
    "DigitizationCode",
    "DigitizationCodeIssuer",
    "DigitizationCodeScheme",
    "DocumentNotation",
    "DocumentNumberIssuer",
    "DossierCode",
    "DossierCodeIssuer",
    "FieldCode",
    "Level1Entry",
    "Level1Table",
    "NotationRules",
    "PostgresCodeStore",
    "ProcedureCode",
    "QrPayload",
    "ResultTypeCode",
    "SQLiteCodeStore",
    "UnknownLevel1Warning",
    "archive_file_name",
    "default_level1_table",
    "parse_archive_file_name",
    "render_qr",
    "set_default_level1_table",
    "validate_dossier_codes",
    "vietnam_now",
]
