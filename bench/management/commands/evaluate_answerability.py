"""The answerability check alone, replayed over the passages the answer pipeline gives each question.

    python manage.py evaluate_answerability --documents $DATA/docs \
        --answerable bench/data/company-qa.jsonl [...] --unanswerable bench/data/company-unanswerable.jsonl [...] \
        [--contexts var/bench/contexts.pickle] [--check-file OLD.py] [-v 2]

Each question goes through retrieval, the relevance gate and passage building as an answer
would (`chat.services.answerability_inputs`), then through `chat.answerability.verdict`; nothing
is generated or stored. Per set: the share of questions the check gets right (answerable:
it lets the answer go ahead; unanswerable: the gate or the check abstains).

`--contexts FILE` keeps the retrieved passages: the first run writes them, later runs read them
and skip retrieval, so a change to the check is measured on exactly the same passages (seconds
instead of minutes). `--check-file` replays another version of the check, a file holding a
`verdict` function (`git show REV:chat/answerability.py > old.py` for one from before the
package split), so "before" and "after" are measured on the same passages.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from bench.answers import answers_collection, jsonl
from bench.documents import DEFAULT_MAX_BYTES, documents_collection
from chat.answerability import verdict
from chat.services import CheckInputs, answerability_inputs, conversation_create
from config.commands import AppCommand


def _check_from_file(path: Path) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location("answerability_under_test", path)
    if spec is None or spec.loader is None:
        raise CommandError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    if not hasattr(module, "verdict"):
        raise CommandError(f"{path} has no verdict function")
    return module.verdict  # type: ignore[no-any-return]


class Command(AppCommand):
    help = "Replay the answerability check over the passages the answer pipeline gives each question."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--corpus", type=Path, help="jsonl with _id, text (and optional title)")
        source.add_argument("--documents", type=Path, help="a folder of documents")
        parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
        parser.add_argument("--answerable", type=Path, nargs="*", default=[], help="jsonl sets with question (and history)")
        parser.add_argument("--unanswerable", type=Path, nargs="*", default=[], help="jsonl sets no document answers")
        parser.add_argument("--contexts", type=Path, help="read the retrieved passages from here, or write them here")
        parser.add_argument("--check-file", type=Path, help="replay the verdict function of this file instead")
        parser.add_argument("--backend", default="extractive", help="whose passage budget to use (default: extractive)")

    def handle(self, *args: Any, **options: Any) -> None:
        sets = [(path, True) for path in options["answerable"]] + [(path, False) for path in options["unanswerable"]]
        if not sets:
            raise CommandError("give --answerable and/or --unanswerable question sets")
        contexts: dict[str, list[CheckInputs]] = {}
        path = options["contexts"]
        if path is not None and path.exists():
            contexts = pickle.loads(path.read_bytes())
            self.stdout.write(f"passages read from {path}")
        missing = [p for p, _ in sets if str(p) not in contexts]
        if missing:
            contexts.update(self._retrieve(missing, options))
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps(contexts))
                self.stdout.write(f"passages written to {path}")
        check = _check_from_file(options["check_file"]) if options["check_file"] else verdict
        rows = ["| set | kind | questions | right | share |", "|---|---|---|---|---|"]
        for set_path, answerable in sets:
            right = 0
            inputs = contexts[str(set_path)]
            for item in inputs:
                if item.covered:
                    found = check(item.question, item.passages, previous=item.previous)
                    said, why = found.answerable, found.why
                else:
                    said, why = False, f"relevance gate: {item.why}"
                right += said == answerable
                if said != answerable and options["verbosity"] >= 2:
                    self.stdout.write(f"{set_path.name}: {'abstained' if answerable else 'answered'}: "
                                      f"{item.question}\n    {why}")
            share = right / len(inputs) if inputs else 0.0
            rows.append(f"| {set_path.name} | {'answerable' if answerable else 'unanswerable'} | {len(inputs)} | "
                        f"{right} | {share:.3f} |")
        self.stdout.write("\n".join(rows))

    def _retrieve(self, paths: list[Path], options: dict[str, Any]) -> dict[str, list[CheckInputs]]:
        if options["documents"] is not None:
            collection = documents_collection(options["documents"], max_bytes=options["max_bytes"], log=self.stdout.write)
        elif options["corpus"] is not None:
            collection = answers_collection(options["corpus"], log=self.stdout.write)
        else:
            raise CommandError("give --documents or --corpus (or --contexts holding every set)")
        user, _ = get_user_model().objects.get_or_create(username="footnote-evaluation", defaults={"is_active": False})
        conversation = conversation_create(owner=user, collection=collection)
        found: dict[str, list[CheckInputs]] = {}
        for path in paths:
            found[str(path)] = [
                answerability_inputs(conversation=conversation, question=q["question"], backend=options["backend"],
                                     history=[(a, b) for a, b in q.get("history") or []])
                for q in jsonl(path)
            ]
        return found
