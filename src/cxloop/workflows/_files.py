"""Files uploaded to workflow forms (a step's or an intake form's ``file`` fields): checked for
size, kind (by extension, confirmed by the file's first bytes) and emptiness; kept in the
``workflow_files`` storage under a random folder with a cleaned name; recorded in the answers as
``{"file": <storage name>, "name", "size", "type"}``. They have no public address: the web app
sends them only to members who may read the run."""

from __future__ import annotations

import codecs
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile

MAX_NAME = 100
HEAD = 8192  # bytes read to tell a file's kind


def _text(head: bytes) -> bool:
    """Plain text: UTF-8 (a character cut at the end of the sample is fine), no NUL."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _starts(*prefixes: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(prefixes)


_ZIP = _starts(b"PK\x03\x04")  # Office Open XML and OpenDocument files are zip archives
KINDS: dict[str, tuple[str, str, Callable[[bytes], bool]]] = {
    # extension: (content type, what it is called in an error, its first bytes)
    "pdf": ("application/pdf", "a PDF", _starts(b"%PDF-")),
    "png": ("image/png", "a PNG image", _starts(b"\x89PNG\r\n\x1a\n")),
    "jpg": ("image/jpeg", "a JPEG image", _starts(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", "a JPEG image", _starts(b"\xff\xd8\xff")),
    "gif": ("image/gif", "a GIF image", _starts(b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", "a WebP image", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    "txt": ("text/plain", "a text file", _text),
    "csv": ("text/csv", "a CSV file", _text),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "a Word document", _ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "an Excel workbook", _ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             "a PowerPoint file", _ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", "an OpenDocument text", _ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "an OpenDocument sheet", _ZIP),
}  # fmt: skip


def storage() -> Storage:
    return storages["workflow_files"]


def allowed_extensions() -> list[str]:
    return [e for e in getattr(settings, "WORKFLOW_FILE_TYPES", KINDS) if e in KINDS]


def max_bytes() -> int:
    return int(getattr(settings, "WORKFLOW_FILE_MAX_BYTES", 10 * 1024 * 1024))


def safe_name(raw: str) -> str:
    """A file name safe to keep and to send back: no folders, no control or direction
    characters, only letters, digits, ``-``, ``_`` and ``.``, no leading dot, at most
    ``MAX_NAME`` characters with its extension kept; ``file`` when nothing is left."""
    name = unicodedata.normalize("NFKC", str(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if not unicodedata.category(c).startswith("C"))
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip())
    while ".." in name:
        name = name.replace("..", ".")
    name = name.strip("._") or "file"
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[: MAX_NAME - len(ext) - 1].rstrip('._') or 'file'}.{ext}"
    return name[:MAX_NAME]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def upload_problem(upload: UploadedFile) -> str:
    """Why an upload cannot be kept ('' when it can): empty, too big, a kind not accepted, or
    content that is not what its extension says."""
    size = upload.size or 0
    if size == 0:
        return "the file is empty"
    if size > max_bytes():
        return f"the file is {_megabytes(size)}; at most {_megabytes(max_bytes())}"
    name = safe_name(upload.name or "")
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    allowed = allowed_extensions()
    if ext not in allowed:
        what = f".{ext} files are" if ext else "a file without an extension is"
        return f"{what} not accepted here (accepted: {', '.join(allowed)})"
    upload.seek(0)
    head = upload.read(HEAD)
    upload.seek(0)
    if not KINDS[ext][2](head):
        return f"the content is not {KINDS[ext][1]}, as the name .{ext} says"
    return ""


def is_file(value: Any) -> bool:
    """Whether an answer is a stored file's record."""
    return isinstance(value, Mapping) and {"file", "name", "size"} <= set(value)


def files_store(answers: dict[str, Any], *, workspace_id: int) -> list[str]:
    """Keep each upload among ``answers`` (already checked by the form) and put its record in
    its place; returns the storage names (to remove them if what follows fails)."""
    kept: list[str] = []
    for key, value in answers.items():
        if not isinstance(value, UploadedFile):
            continue
        name = safe_name(value.name or "")
        ext = name.rpartition(".")[2].lower()
        value.seek(0)
        stored = storage().save(f"{workspace_id}/{secrets.token_hex(16)}/{name}", value)
        kept.append(stored)
        answers[key] = {"file": stored, "name": name, "size": value.size,
                        "type": KINDS[ext][0] if ext in KINDS else "application/octet-stream"}  # fmt: skip
    return kept


def files_discard(names: Iterable[str]) -> None:
    for name in names:
        storage().delete(name)


def file_records(answers: Mapping[str, Any]) -> list[tuple[str, dict]]:
    """(field key, record) for each file among ``answers``."""
    return [(k, dict(v)) for k, v in answers.items() if is_file(v)]


def file_open(record: Mapping[str, Any]):
    """The stored file of a record (a File to read and close)."""
    return storage().open(str(record["file"]), "rb")
