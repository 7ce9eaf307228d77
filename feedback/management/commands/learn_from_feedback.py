from __future__ import annotations

from typing import Any

from config.commands import AppCommand
from feedback.learning import feedback_learn


class Command(AppCommand):
    help = ("(Re)train from the stored reviews: rebuild vote evidence, learn RRF fusion weights and a query "
            "adapter; each replaces the defaults only when it wins in cross-validation on the labelled queries.")

    def handle(self, *args: Any, **options: Any) -> None:
        for row in feedback_learn(log=self.stdout.write):
            state = "in force" if row.active else "not used (defaults stay)"
            self.stdout.write(f"{row.kind}: {state}; {row.metrics.get('why', '')}; {row.examples} labelled queries")
