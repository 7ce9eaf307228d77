"""`make run`'s supervisor on a fresh data folder: embedded PostgreSQL, migrations, first
account, web server and worker come up healthy, and Ctrl-C stops all of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import PROJECT_ROOT, wait_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error) if error.code == 503 else None
    except OSError:
        return None


def test_supervisor_starts_everything_and_stops_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "FOOTNOTE_EMBEDDED_DB", "HTTPS")}
    env.pop("PYTEST_VERSION", None)  # behave like a user's `make run`
    env.update(FOOTNOTE_VAR_DIR=str(tmp_path / "var"), PORT=str(port), ADMIN_PASSWORD="")
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "config.supervisor"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        def healthy() -> dict | None:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"the supervisor exited with {process.returncode}:\n{log.read()[-3000:]}")
            return (h := _health(port)) and h["status"] == "ok" and h

        body = wait_for(healthy, timeout=180, message="a healthy app")
        assert body["checks"]["worker"]["ok"]
        log.seek(0)
        output = log.read()
        assert "Created superuser 'admin' with the generated password" in output
        assert f"http://127.0.0.1:{port}/" in output
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends to the group
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    assert _health(port) is None
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "var")], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"processes still running: {leftovers}"
