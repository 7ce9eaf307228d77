"""Hostile, broken and mislabeled files are refused or fail alone, with a reason to act on."""

from __future__ import annotations

import io
import socket
import zipfile

import pytest

from ingestion.models import Document
from ingestion.parsing import ParseError, parse_file
from ingestion.services import document_process
from tests.factories.files import docx_bytes, pdf_bytes, upload

pytestmark = pytest.mark.django_db


def _post(api, name: str, content: bytes):
    return api.post("/api/v1/documents", {"files": [upload(name, content)]})


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf_bytes(["secret"]))).pages:
        writer.add_page(page)
    writer.encrypt("hunter2")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_password_protected_pdf_is_refused_with_what_to_do(api):
    response = _post(api, "secret.pdf", _encrypted_pdf())
    assert response.status_code == 400
    assert "password-protected" in response.json()[0]["error"]


def test_zip_bomb_renamed_docx_is_refused_before_parsing(api, settings):
    settings.PARSE_MAX_UNPACKED_BYTES = 10_000_000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"0" * 30_000_000)
    response = _post(api, "bomb.docx", out.getvalue())
    assert response.status_code == 400
    assert "zip bomb" in response.json()[0]["error"]
    assert not Document.objects.exists()


def test_xml_with_entity_expansion_is_refused(api):
    billion_laughs = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""
    response = _post(api, "laughs.xml", billion_laughs)
    assert response.status_code == 400 and "entities" in response.json()[0]["error"]


def test_xml_with_an_external_entity_is_refused(api):
    xxe = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
    response = _post(api, "xxe.xml", xxe)
    assert response.status_code == 400


def test_a_pdf_named_docx_is_refused_as_mislabeled(api):
    response = _post(api, "report.docx", pdf_bytes(["hello"]))
    assert response.status_code == 415
    assert ".docx" in response.json()[0]["error"] and "application/pdf" in response.json()[0]["error"]


def test_truncated_docx_fails_alone_with_a_reason(api):
    good = _post(api, "good.docx", docx_bytes("Fine", ["This one is fine."])).json()[0]
    broken = _post(api, "broken.docx", docx_bytes("Broken", ["cut short"])[:900]).json()[0]
    for entry in (good, broken):
        if entry["id"]:
            document_process(document_id=entry["id"])
    assert Document.objects.get(pk=good["id"]).status == "indexed"
    if broken["status"] == "rejected":
        assert broken["error"]
    else:
        failed = Document.objects.get(pk=broken["id"])
        assert failed.status == "failed" and failed.error


def test_corrupt_pdf_fails_with_a_reason(api):
    entry = _post(api, "corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage").json()[0]
    if entry["status"] == "rejected":
        assert entry["error"]
        return
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "failed" and document.error


def test_parsing_html_never_touches_the_network(tmp_path, monkeypatch):
    page = tmp_path / "page.html"
    page.write_text('<html><body><h1>Title</h1><p>Local text.</p><img src="http://example.com/x.png"></body></html>')

    def refuse(*args, **kwargs):
        raise AssertionError("network access while parsing")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    parsed = parse_file(page, filename="page.html", content_type="text/html")
    assert any("Local text." in e.text for e in parsed.elements)


def test_legacy_word_file_needs_libreoffice(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    doc = tmp_path / "old.doc"
    doc.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(ParseError, match="LibreOffice"):
        parse_file(doc, filename="old.doc", content_type="application/msword")


def test_json_lines_are_accepted_and_indexed(api):
    entry = _post(api, "records.ndjson", b'{"name": "Ada", "role": "engineer"}\n{"name": "Grace", "role": "admiral"}\n').json()[0]
    assert entry["status"] == "queued", entry
    document_process(document_id=entry["id"])
    assert Document.objects.get(pk=entry["id"]).status == "indexed"


def test_nul_characters_never_reach_the_database():
    from types import SimpleNamespace

    from ingestion.parsing import _element

    raw = SimpleNamespace(category="NarrativeText", text="a\x00b\x00c", metadata=SimpleNamespace(page_number=1))
    assert _element(raw).text == "abc"


ENCRYPTED_EMAIL = b"""From: a@example.com
To: b@example.com
Subject: secret
MIME-Version: 1.0
Content-Type: multipart/encrypted; boundary=foo; protocol="application/pgp-encrypted"

--foo
Content-Type: application/pgp-encrypted

Version: 1

--foo
Content-Type: application/octet-stream

-----BEGIN PGP MESSAGE-----
hIwDY32hYGCE8MkBA/wOu7d45aUxF4Q0RKJprD3v5Z9K1YcRJ2fve87lMlDlx4Oj
-----END PGP MESSAGE-----

--foo--
"""


def test_an_encrypted_email_is_refused_as_encrypted(api):
    response = _post(api, "secret.eml", ENCRYPTED_EMAIL)
    assert response.status_code == 400
    assert "encrypted" in response.json()[0]["error"]


def test_messages_inside_a_digest_email_are_indexed(tmp_path):
    digest = (
        b"From: list@example.com\nTo: bob@example.com\nSubject: Digest\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/digest; boundary="b1"\n\n'
        b"--b1\nContent-Type: message/rfc822\n\nFrom: eve@example.com\nSubject: One\n\n"
        b"The quarterly budget review moves to Thursday.\n\n"
        b"--b1\nContent-Type: message/rfc822\n\nFrom: frank@example.com\nSubject: Two\n\n"
        b"Parking permits are renewed in March.\n\n--b1--\n"
    )
    path = tmp_path / "digest.eml"
    path.write_bytes(digest)
    parsed = parse_file(path, filename="digest.eml", content_type="message/rfc822")
    text = " ".join(e.text for e in parsed.elements)
    assert "quarterly budget review moves to Thursday" in text
    assert "Parking permits are renewed in March" in text


def _outlook_message(*, message_class="IPM.Note", headers=None, body="", attachments=()):
    """What `oxmsg.Message` shows of a .msg: the library cannot write one, and an OLE compound
    file built by hand would test that builder more than this check."""
    from types import SimpleNamespace

    return SimpleNamespace(
        message_class=message_class, message_headers=headers or {}, body=body, html_body=None,
        attachments=[SimpleNamespace(file_name=name, mime_type=mime) for name, mime in attachments],
    )


@pytest.mark.parametrize("message", [
    # PGP/MIME converted to .msg: class IPM.Note, the MIME headers kept, the parts as attachments.
    _outlook_message(
        headers={"Content-Type": 'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="foo"'},
        attachments=[("ATT00001.pgp-encrypted", "application/pgp-encrypted"),
                     ("ATT00002.bin", "application/octet-stream")],
    ),
    _outlook_message(message_class="IPM.Note.SMIME", attachments=[("smime.p7m", "application/pkcs7-mime")]),
    _outlook_message(attachments=[("smime.p7m", "application/octet-stream")]),
    _outlook_message(body="This message is protected.",
                     attachments=[("message.rpmsg", "application/x-microsoft-rpmsg-message")]),
], ids=["pgp-mime-headers", "smime-class", "smime-envelope-only", "rights-managed"])
def test_an_encrypted_outlook_message_is_recognised(message):
    from ingestion.checks import outlook_message_is_encrypted

    assert outlook_message_is_encrypted(message)


@pytest.mark.parametrize("message", [
    _outlook_message(body="Lunch at noon?", headers={"Content-Type": "multipart/alternative; boundary=x"}),
    _outlook_message(message_class="IPM.Note.SMIME.MultipartSigned", body="Signed, readable.",
                     attachments=[("smime.p7s", "application/pkcs7-signature")]),
    _outlook_message(body="The key is attached.", attachments=[("backup.pgp", "application/pgp-encrypted")]),
], ids=["plain", "clear-signed", "readable-body-with-encrypted-file"])
def test_a_readable_outlook_message_is_not_taken_for_encrypted(message):
    from ingestion.checks import outlook_message_is_encrypted

    assert not outlook_message_is_encrypted(message)
