"""Settings read the environment only, and stop the process at start-up on a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _import_settings(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FOOTNOTE_EMBEDDED_DB", "DATABASE_URL")}
    env.update(DATABASE_URL="postgres://footnote@db.invalid:5432/footnote", SECRET_KEY="test", **overrides)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.DATABASES['default']['HOST'])"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_importing_the_settings_starts_no_database(tmp_path):
    result = _import_settings(FOOTNOTE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "db.invalid"
    assert list(tmp_path.iterdir()) == []  # no pgdata, no secret key, no broker folders


def test_without_database_url_the_settings_say_how_to_start():
    env = {k: v for k, v in os.environ.items() if k not in ("FOOTNOTE_EMBEDDED_DB", "DATABASE_URL")}
    result = subprocess.run([sys.executable, "-c", "import config.settings"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr and "manage.py" in result.stderr


@pytest.mark.parametrize(("name", "value"), [("LLM_BACKEND", "gpt4"), ("BM25_STEMMER", "klingon"),
                                             ("BM25_STOPWORDS", "french"), ("EMBEDDING_BACKEND", "cuda")])
def test_a_setting_with_fixed_choices_refuses_another_value(name, value):
    result = _import_settings(**{name: value})
    assert result.returncode != 0
    assert f"{name}={value!r} is not one of" in result.stderr
