"""The layer order (docs/architecture.md) is enforced by import-linter in `make lint`: these tests
show that the contract holds for the code as it is, and that it catches an upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("runtime", "accounts", "ingestion", "retrieval", "chat", "feedback", "operations", "bench")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "pyproject.toml", "--no-cache"],
        cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=300,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_code_keeps_the_layer_order(project_copy: Path) -> None:
    result = _lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "statement", "message"),
    [
        ("ingestion/probe.py", "import chat.services\n", "ingestion is not allowed to import chat"),
        # Inside a function too: a function-level import is still an upward edge.
        ("accounts/probe.py", "def f():\n    from ingestion import models\n", "accounts is not allowed to import ingestion"),
        ("retrieval/probe.py", "from feedback import selectors\n", "retrieval is not allowed to import feedback"),
    ],
)
def test_an_upward_import_in_a_domain_module_breaks_the_contract(
    project_copy: Path, module: str, statement: str, message: str
) -> None:
    (project_copy / module).write_text(statement)
    result = _lint_imports(project_copy)
    assert result.returncode != 0
    assert message in result.stdout


def test_entry_points_may_call_any_app(project_copy: Path) -> None:
    (project_copy / "ingestion" / "views.py").write_text(
        (project_copy / "ingestion" / "views.py").read_text() + "\nimport chat.services  # noqa\n"
    )
    assert _lint_imports(project_copy).returncode == 0
