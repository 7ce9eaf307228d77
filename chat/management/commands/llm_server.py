"""`manage.py llm_server`: run the llama.cpp server of the `local` backend with the settings
(LLM_LOCAL_GGUF, LLM_LOCAL_PORT, LLM_LOCAL_THREADS, LLM_LOCAL_CONTEXT). This process becomes the
server (exec), so whoever started it (the supervisor of `make run`) watches the server itself.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chat.llm import LLMError
from chat.local_llm import local_spec
from runtime import llama_server


class Command(BaseCommand):
    help = "Run the llama.cpp server of the local LLM backend (what `make run` starts when LLM_BACKEND=local)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not llama_server.installed():
            raise CommandError(f"{llama_server.INSTALL_HINT} (missing: {', '.join(llama_server.missing_modules())})")
        try:
            spec = local_spec()
        except LLMError as exc:
            raise CommandError(str(exc)) from None
        if not os.path.isfile(spec.gguf):
            raise CommandError(f"no GGUF file at {spec.gguf} (LLM_LOCAL_GGUF)")
        self.stdout.write(f"llama.cpp server: {os.path.basename(spec.gguf)} on {spec.base_url}, "
                          f"{spec.threads} thread(s), window {spec.context} tokens")
        self.stdout.flush()
        os.execve(sys.executable, [sys.executable, *spec.args()], spec.environ(os.environ))
