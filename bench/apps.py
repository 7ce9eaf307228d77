from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmarks and evaluations: the top layer, above every product app (it may import any of
    them, and writes only through their services). No models of its own."""

    name = "bench"
    verbose_name = "Benchmarks and evaluations"
