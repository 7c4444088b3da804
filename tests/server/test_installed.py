"""An installed hallq (a wheel, not this checkout) serves its pages: templates, JS, CSS and voice clips ship."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, free_port
from tests.server.conftest import SECRET, write_test_config


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_a_wheel_installed_elsewhere_serves_every_page_and_its_static_files(tmp_path: Path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "hall"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(ROOT), "-w", str(wheels)], check=True)
    wheel = next(wheels.glob("hallq-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    config = write_test_config(elsewhere)
    port = free_port()
    # the wheel's packages come first on the path; the working directory holds no source
    env = os.environ | {"PYTHONPATH": str(target), "HALLQ_SECRET": SECRET}
    log = (elsewhere / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "queue_server.cli", "serve", "--config", str(config), "--port", str(port)],
        cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (elsewhere / "server.log").read_text()
            try:
                if _get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the installed server did not start"
            time.sleep(0.2)
        code = subprocess.run(
            [sys.executable, "-c", "import displays.pages as p; print(p.STATIC)"],
            cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()
        assert code.startswith(str(target)), code  # really the installed copy, not the checkout
        for path in ("/", "/board?hall=demo", "/kiosk?hall=demo", "/plan?hall=demo", "/api/docs"):
            assert _get(base + path)[0] == 200, path
        status, body = _get(base + "/static/js/feed.js")
        assert status == 200 and b"HallqFeed" in body
        assert _get(base + "/static/css/common.css")[0] == 200
        status, clip = _get(base + "/static/voice/chuangkou.wav")
        assert status == 200 and clip[:4] == b"RIFF"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=15)
        log.close()
