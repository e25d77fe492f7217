"""What an uploaded file really is, judged by its bytes rather than its name or the browser's content type.

Every upload path calls `check_upload` before anything parses the file: Excel workbooks (a zip with the parts of
an .xlsx), CSV text, and photos (JPEG, PNG or WebP).
"""

import os
import zipfile
from typing import BinaryIO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.errors import ApplicationError

XLSX, XLS, CSV, JPEG, PNG, WEBP, ZIP, UNKNOWN = "xlsx", "xls", "csv", "jpeg", "png", "webp", "zip", "unknown"
PHOTO_KINDS = frozenset({JPEG, PNG, WEBP})

# The old .xls (OLE compound document) signature: worth its own message, it is the usual mistake.
_OLE = bytes.fromhex("D0CF11E0A1B11AE1")
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_ZIP = b"PK\x03\x04"
# A workbook may unpack to many times its size; beyond this ratio it is a zip bomb, not a workbook.
MAX_UNPACKED_RATIO = 100
_SNIFF_BYTES = 64 * 1024

_NAMES = {
    XLSX: gettext_lazy("an Excel .xlsx workbook"),
    XLS: gettext_lazy("an old Excel .xls workbook"),
    CSV: gettext_lazy("a CSV text file"),
    JPEG: "JPEG",
    PNG: "PNG",
    WEBP: "WebP",
    ZIP: gettext_lazy("a zip archive"),
    UNKNOWN: gettext_lazy("a file of unknown type"),
}


class UploadRefused(ApplicationError):
    """The upload is too large, empty, or not of a kind this place accepts."""

    code = "upload_refused"


def _size(file: BinaryIO) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, os.SEEK_END)
        size = file.tell()
    file.seek(0)
    return size


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    # UTF-8 (with or without BOM) or GB18030, which Chinese Excel uses when it saves CSV; a cut multi-byte
    # character at the end of the sniffed bytes is no reason to refuse.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:
                return True
    return False


def sniff(file: BinaryIO) -> str:
    """The kind of the file's content: xlsx, xls, csv, jpeg, png, webp, zip or unknown."""
    file.seek(0)
    head = file.read(_SNIFF_BYTES)
    file.seek(0)
    if head.startswith(_JPEG):
        return JPEG
    if head.startswith(_PNG):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_OLE):
        return XLS
    if head.startswith(_ZIP):
        try:
            with zipfile.ZipFile(file) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return UNKNOWN
        finally:
            file.seek(0)
        return XLSX if {"[Content_Types].xml", "xl/workbook.xml"} <= names else ZIP
    if _is_text(head):
        return CSV
    return UNKNOWN


def check_upload(file: BinaryIO, *, allowed: frozenset[str] | set[str], max_bytes: int, what: str = "") -> str:
    """The kind of an upload that is at most `max_bytes` and of an `allowed` kind; UploadRefused, saying what it
    is and what is wanted, otherwise. A workbook is also refused if it would unpack to far more than its size."""
    size = _size(file)
    if size == 0:
        raise UploadRefused(_("The file is empty."), code="upload_empty")
    if size > max_bytes:
        raise UploadRefused(
            _("The file is too large: %(size)s, at most %(limit)s.")
            % {"size": _megabytes(size), "limit": _megabytes(max_bytes)},
            code="upload_too_large",
        )
    kind = sniff(file)
    if kind not in allowed:
        wanted = what or ", ".join(str(_NAMES[k]) for k in sorted(allowed))
        raise UploadRefused(
            _("This file is %(found)s; send %(wanted)s.") % {"found": _NAMES[kind], "wanted": wanted},
            code="upload_type",
        )
    if kind == XLSX:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        file.seek(0)
        if unpacked > max(size, 1) * MAX_UNPACKED_RATIO:
            raise UploadRefused(_("The workbook unpacks to an implausible size; it is refused."), code="upload_bomb")
    return kind


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
