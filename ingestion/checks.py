"""Checks of an upload's bytes before anything parses them.

`check_upload` returns the content type detected from the bytes, or raises `Rejected` with a
reason a user can act on and the HTTP status that fits (400 bad file, 415 unsupported type).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from ingestion.parsing import detect_content_type


class Rejected(Exception):
    def __init__(self, reason: str, http_status: int = 400) -> None:
        super().__init__(reason)
        self.http_status = http_status


# MIME types we can index, and the extensions a user would give them.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/msword": (".doc",),
    "application/vnd.ms-powerpoint": (".ppt",),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/epub": (".epub",),
    "application/epub+zip": (".epub",),
    "application/rtf": (".rtf",),
    "text/rtf": (".rtf",),
    "text/html": (".html", ".htm"),
    "text/markdown": (".md", ".markdown"),
    "text/x-markdown": (".md", ".markdown"),
    "text/plain": (".txt", ".text", ".log"),
    "text/csv": (".csv",),
    "text/tsv": (".tsv",),
    "text/tab-separated-values": (".tsv",),
    "message/rfc822": (".eml",),
    "application/vnd.ms-outlook": (".msg",),
    "application/json": (".json",),
    "application/x-ndjson": (".ndjson", ".jsonl"),
    "application/xml": (".xml",),
    "text/xml": (".xml",),
    "text/org": (".org",),
    "text/x-rst": (".rst",),
    # Read by OCR (ingestion/ocr.py), when Tesseract is installed.
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/tiff": (".tif", ".tiff"),
}


def too_large_message(size: int) -> str:
    limit_mb = settings.UPLOAD_MAX_BYTES / (1024 * 1024)
    return (
        f"The file is {size / (1024 * 1024):.1f} MB; the limit is {limit_mb:.0f} MB "
        "(UPLOAD_MAX_BYTES). Split it into smaller files."
    )


ZIP_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/epub",
    "application/epub+zip",
}
XML_TYPES = {"application/xml", "text/xml"}
MAX_COMPRESSION_RATIO = 200


def _check_zip(path: Path) -> None:
    """Zip bombs and XML entity tricks inside Office/ODT/EPUB containers, before any parser runs."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            unpacked = sum(m.file_size for m in members)
            packed = max(1, sum(m.compress_size for m in members))
            if unpacked > settings.PARSE_MAX_UNPACKED_BYTES or unpacked / packed > MAX_COMPRESSION_RATIO:
                raise Rejected(
                    f"The file unpacks to {unpacked / 1e6:.0f} MB from {packed / 1e6:.1f} MB, which looks like a "
                    "zip bomb; it was not opened. Save the document again from its application.", 400)
            for member in members:
                if member.filename.endswith((".xml", ".rels", ".opf", ".xhtml", ".ncx")) and member.file_size < 50_000_000:
                    _check_xml_bytes(archive.read(member), where=f" (in {member.filename})")
    except zipfile.BadZipFile:
        raise Rejected("The file is damaged: its zip container cannot be read. Save it again and re-upload.", 400) from None


def _check_xml_bytes(data: bytes, *, where: str = "") -> None:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise Rejected(
            f"The file declares XML entities{where} (a way to read server files or exhaust memory); it was not "
            "opened. Remove the DOCTYPE/ENTITY declarations and upload again.", 400) from None
    except Exception:
        pass  # malformed XML is the parser's to report


def _check_encrypted(path: Path, content_type: str) -> None:
    message = "The file is password-protected. Remove the password (save an unprotected copy) and upload it again."
    if content_type == "application/pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            if PdfReader(str(path)).is_encrypted:
                raise Rejected(message, 400)
        except PdfReadError:
            return  # damaged: parsing reports it
        except Rejected:
            raise
        except Exception:
            return
    if content_type == "message/rfc822":
        _check_encrypted_email(path)
        return
    if content_type == "application/vnd.ms-outlook":
        _check_encrypted_outlook_message(path)
        return
    import olefile

    try:
        if olefile.isOleFile(str(path)):
            with olefile.OleFileIO(str(path)) as ole:
                # Password-protected Office files are OLE containers holding an EncryptedPackage.
                if ole.exists("EncryptedPackage") or ole.exists("EncryptionInfo"):
                    raise Rejected(message, 400)
    except Rejected:
        raise
    except Exception:
        return


ENCRYPTED_EMAIL_TYPES = {"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
ENCRYPTED_EMAIL_REASON = (
    "The e-mail is encrypted (PGP, S/MIME or Microsoft rights management), so its text cannot be read. "
    "Upload a decrypted copy (or forward it decrypted and save that message).")


def _check_encrypted_email(path: Path) -> None:
    """A PGP/MIME or S/MIME encrypted message: its body is ciphertext, nothing to index."""
    from email.parser import BytesHeaderParser

    with path.open("rb") as handle:
        headers = BytesHeaderParser().parse(handle)
    if headers.get_content_type() in ENCRYPTED_EMAIL_TYPES:
        raise Rejected(ENCRYPTED_EMAIL_REASON, 400)


def _check_encrypted_outlook_message(path: Path) -> None:
    from oxmsg import Message

    try:
        message = Message.load(str(path))
        encrypted = outlook_message_is_encrypted(message)
    except Exception:
        return  # damaged: parsing reports it
    if encrypted:
        raise Rejected(ENCRYPTED_EMAIL_REASON, 400)


# Attachments that stand for an encrypted body: the PGP/MIME parts and the S/MIME envelope.
_CIPHERTEXT_ATTACHMENT_TYPES = {
    "application/pgp-encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
# The body of a rights-managed (IRM) message, named and typed so by [MS-OXORMMS] 2.2.3.
_RIGHTS_MANAGED_ATTACHMENT = {"message.rpmsg", "application/x-microsoft-rpmsg-message"}


def outlook_message_is_encrypted(message: Any) -> bool:
    """Whether an Outlook message (an `oxmsg.Message`) carries its body only as ciphertext.

    Outlook gives an S/MIME encrypted message the class IPM.Note.SMIME (clear-signed ones are
    IPM.Note.SMIME.MultipartSigned, readable). A PGP/MIME or S/MIME message converted from MIME
    keeps its original headers, whose Content-Type is then checked as for an .eml. A
    rights-managed message carries its body as the attachment message.rpmsg, whatever
    placeholder text it shows. Failing those, a message with no body text whose attachments
    include the ciphertext (smime.p7m, the PGP/MIME parts) is encrypted too.
    """
    from email.message import Message as MimeHeaders

    message_class = (message.message_class or "").casefold()
    clear_signed = message_class.startswith("ipm.note.smime.multipartsigned")
    if message_class.startswith("ipm.note.smime") and not clear_signed:
        return True
    headers = MimeHeaders()
    for name, value in message.message_headers.items():
        if name.casefold() == "content-type":
            headers["Content-Type"] = value
    if headers.get_content_type() in ENCRYPTED_EMAIL_TYPES:
        return True
    attachments = [
        ((a.file_name or "").casefold(), (a.mime_type or "").casefold()) for a in message.attachments]
    if any({name, mime} & _RIGHTS_MANAGED_ATTACHMENT for name, mime in attachments):
        return True
    if (message.body or "").strip() or (message.html_body or "").strip():
        return False
    return any(mime in _CIPHERTEXT_ATTACHMENT_TYPES or name == "smime.p7m" for name, mime in attachments)


def check_upload(path: Path, filename: str) -> str:
    size = path.stat().st_size
    if size == 0:
        raise Rejected("The file is empty (0 bytes). Upload a file with content.", 400)
    if size > settings.UPLOAD_MAX_BYTES:
        raise Rejected(too_large_message(size), 413)
    try:
        content_type = detect_content_type(path, filename)
    except Exception as exc:
        raise Rejected(f"The file type could not be determined ({exc}).", 415) from exc
    _check_encrypted(path, content_type)
    import zipfile

    if content_type in ZIP_TYPES or zipfile.is_zipfile(path):
        _check_zip(path)  # before anything else opens it, whatever it claims to be
    if content_type not in SUPPORTED:
        kinds = ", ".join(sorted({ext for exts in SUPPORTED.values() for ext in exts}))
        raise Rejected(f"Files of type {content_type} cannot be indexed. Supported: {kinds}.", 415)
    if content_type in XML_TYPES:
        _check_xml_bytes(path.read_bytes())
    _check_extension(filename, content_type)
    return content_type


# Extensions whose content must be of the matching binary family: a PDF named .docx is refused.
_BINARY_EXTENSIONS = {
    ".pdf": {"application/pdf"},
    ".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    ".pptx": {"application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    ".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    ".epub": {"application/epub", "application/epub+zip"},
    ".odt": {"application/vnd.oasis.opendocument.text"},
}


def _check_extension(filename: str, content_type: str) -> None:
    extension = Path(filename).suffix.lower()
    expected = _BINARY_EXTENSIONS.get(extension)
    if expected is not None and content_type not in expected:
        raise Rejected(
            f"The file is named {extension} but its content is {content_type}. Rename it with the right extension "
            "(or export it again) and upload it.", 415)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: the database went away for a moment."""
    return isinstance(exc, (OperationalError, InterfaceError))
