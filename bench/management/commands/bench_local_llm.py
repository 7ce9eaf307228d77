"""The answer pipeline on a real small model: start llama.cpp's server with a chosen GGUF, run an
evaluation (`evaluate_answers` or `evaluate_injection`) against it with `--backend openai`, stop it.

    python manage.py bench_local_llm --gguf FILE [--threads 1] [--passage-tokens 450] [--max-tokens 120] \
        [--timeout 300] evaluate_answers --corpus $DATA/covid-qa/corpus.jsonl \
        --questions $DATA/covid-qa/qa-dev.jsonl --limit 50 --json FILE --answers FILE.jsonl

The settings fit a slow local model: passages cut to --passage-tokens (a 1.5B model reads about
25 prompt tokens a second on one thread), answers to --max-tokens, a read timeout above the time
to first token, no retry (a timed-out question is answered by the extractive fallback and counted
in `fallbacks`), the circuit breaker and the daily token budget off, so one slow answer does not
send the rest of the run to the fallback. The server's log goes to VAR_DIR/bench/.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

from chat import llm
from runtime import llama_server

EVALUATIONS = ("evaluate_answers", "evaluate_injection")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Command(BaseCommand):
    help = "Start llama.cpp's server with a GGUF model, run an answer evaluation against it, stop it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gguf", required=True, help="the GGUF model file")
        parser.add_argument("--threads", type=int, default=1, help="server threads (default: %(default)s)")
        parser.add_argument("--context", type=int, default=2048, help="the server's window in tokens")
        parser.add_argument("--passage-tokens", type=int, default=450, help="passage tokens in the prompt")
        parser.add_argument("--max-tokens", type=int, default=120, help="most tokens of one answer")
        parser.add_argument("--timeout", type=float, default=300.0,
                            help="seconds to wait for the next piece of an answer (the first comes after the prompt)")
        parser.add_argument("evaluation", choices=EVALUATIONS)
        parser.add_argument("evaluation_args", nargs=argparse.REMAINDER, help="the evaluation's own arguments")

    def handle(self, *args: Any, **options: Any) -> None:
        gguf = os.path.abspath(options["gguf"])
        if "--backend" in options["evaluation_args"]:
            raise CommandError("the evaluation runs with --backend openai against the server: leave --backend out")
        spec = llama_server.ServerSpec(gguf=gguf, port=_free_port(), threads=options["threads"],
                                       context=options["context"], verbose=True)
        log = settings.VAR_DIR / "bench" / f"llama-server-{os.path.basename(gguf)}.log"
        started = time.perf_counter()
        # A run stopped with SIGTERM still stops its server (llama_server.start, the `finally` below).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            process = llama_server.start(spec, log=log, ready_seconds=300)
        except llama_server.ServerUnavailable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"llama.cpp server: {os.path.basename(gguf)} on {spec.base_url}, {spec.threads} thread(s), "
                          f"ready in {time.perf_counter() - started:.1f} s (log: {log})")
        overrides = {"LLM_BACKEND": "openai", "LLM_BASE_URL": spec.base_url, "LLM_API_KEY": "",
                     "LLM_MODEL": os.path.basename(gguf), "LLM_TIMEOUT": options["timeout"], "LLM_RETRIES": 0,
                     "LLM_RETRY_SECONDS": 0, "LLM_DAILY_TOKEN_BUDGET": 0, "LLM_MAX_OUTPUT_TOKENS": options["max_tokens"],
                     "CHAT_CONTEXT_TOKENS": options["passage_tokens"]}
        try:
            with override_settings(**overrides):
                llm.backends_reset()
                call_command(options["evaluation"], *options["evaluation_args"], "--backend", "openai", stdout=self.stdout)
        finally:
            llm.backends_reset()
            llama_server.stop(process)
        self.stdout.write(f"whole run: {time.perf_counter() - started:.0f} s")
