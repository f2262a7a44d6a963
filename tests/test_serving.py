"""How gunicorn serves the app (gunicorn.conf.py, what `make run` uses): the settings it reads
from the environment, and a real gunicorn started with it serving the demo, its workers taking
requests side by side."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"


def settings(monkeypatch, **env) -> dict:
    """The settings gunicorn.conf.py defines, read with this environment."""
    for name in ("WEB_CONCURRENCY", "GRIDPATROL_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found: dict = {}
    exec(compile(CONFIG.read_text(encoding="utf-8"), str(CONFIG), "exec"), found)
    return found


def test_sync_workers_one_more_than_the_cores(monkeypatch):
    found = settings(monkeypatch)
    assert found["worker_class"] == "sync"
    assert found["workers"] == (os.cpu_count() or 1) + 1
    assert found["bind"] == "127.0.0.1:5000"
    assert found["accesslog"] == "-"
    assert found["timeout"] >= 60  # a photo from a phone on a poor network


def test_workers_and_address_from_the_environment(monkeypatch):
    found = settings(monkeypatch, WEB_CONCURRENCY="5", GRIDPATROL_BIND="0.0.0.0:8000")
    assert found["workers"] == 5
    assert found["bind"] == "0.0.0.0:8000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), time.monotonic() - started


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture
def served(database, tmp_path):
    """gunicorn started as `make run` starts it (its configuration, two workers), on a copy of
    the demo; yields its address and master process."""
    if database.backend != "spatialite":
        pytest.skip("`make run` serves SQLite; the configuration does not depend on it")
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("w+")
    env = {
        **os.environ,
        "DATABASE_URL": database.clone(),
        "GRIDPATROL_SECRET_KEY": "x" * 64,
        "GRIDPATROL_SESSION_COOKIE_SECURE": "false",
        "GRIDPATROL_PHOTO_STORAGE_DIR": f'"{tmp_path / "photos"}"',
        "GRIDPATROL_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"gunicorn exited ({proc.returncode}):\n{log.read()}")
            try:
                _get(base + "/login")
                break
            except OSError:
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"gunicorn did not answer in 60 s:\n{log.read()}")
                time.sleep(0.2)
        yield base, proc, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_gunicorn_serves_the_demo_with_its_configuration(served):
    base, proc, log = served
    status, page, _ = _get(base + "/login")
    assert status == 200
    assert 'name="csrf_token"' in page
    assert len(_children(proc.pid)) == 2  # WEB_CONCURRENCY sync workers
    # Requests at once, more than the workers: every one answered.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(_get, [base + "/offline"] * 16))
    assert {status for status, _page, _s in answers} == {200}
    log.flush()
    log.seek(0)
    logged = log.read()
    assert re.search(r'"GET /offline HTTP/1\.[01]" 200', logged)  # the access log is on
    assert "Booting worker with pid" in logged
