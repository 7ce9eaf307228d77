"""Limits charge only what is used: the daily upload volume counts the bytes stored as new
documents (not refused files, not duplicates); unknown API tokens are throttled per address."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import UsageDay
from tests.conftest import bearer_client
from tests.factories.files import upload

pytestmark = pytest.mark.django_db

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64  # audio: refused (415); images are read by OCR


def _used(user) -> int:  # type: ignore[no-untyped-def]
    row = UsageDay.objects.filter(user=user).first()
    return row.upload_bytes if row is not None else 0


def test_a_refused_upload_does_not_reduce_the_days_volume(api, owner):
    assert api.post("/api/v1/documents", {"files": [upload("recording.wav", WAV)]}).status_code == 415
    assert api.post("/api/v1/documents", {"files": [upload("empty.txt", b"")]}).status_code == 400
    assert _used(owner) == 0


def test_a_duplicate_does_not_count_and_a_new_document_counts_its_bytes(api, owner):
    content = b"Hotel nights in Zurich are reimbursed up to 240 francs."
    assert api.post("/api/v1/documents", {"files": [upload("a.txt", content)]}).status_code == 202
    again = api.post("/api/v1/documents", {"files": [upload("copy.txt", content), upload("b.wav", WAV)]})
    assert [entry["status"] for entry in again.json()] == ["duplicate", "rejected"]
    assert _used(owner) == len(content)


def test_the_volume_left_after_refusals_still_takes_a_file_that_fits(api, owner, settings):
    settings.UPLOAD_DAILY_BYTES = 100
    assert api.post("/api/v1/documents", {"files": [upload("big.wav", WAV + b"\x00" * 18)]}).status_code == 415
    assert api.post("/api/v1/documents", {"files": [upload("fits.txt", b"x" * 95)]}).status_code == 202
    assert _used(owner) == 95


def test_unknown_tokens_are_throttled_per_address(owner, settings):
    settings.TOKEN_AUTH_MAX_FAILURES = 3
    guesser = Client(HTTP_AUTHORIZATION="Bearer not-a-token", REMOTE_ADDR="10.0.0.7")
    assert [guesser.get("/api/v1/documents").status_code for _ in range(3)] == [401, 401, 401]
    refused = guesser.get("/api/v1/documents")
    assert refused.status_code == 429 and refused.json()["limit"] == "token_auth" and int(refused["Retry-After"]) >= 1
    # The OpenAI-compatible endpoint counts the same failures.
    assert guesser.get("/v1/models").status_code == 429
    # Another address is not affected, and neither is a valid token from it.
    assert Client(HTTP_AUTHORIZATION="Bearer not-a-token", REMOTE_ADDR="10.0.0.8").get("/api/v1/documents").status_code == 401
    assert bearer_client(owner).get("/api/v1/documents").status_code == 200
