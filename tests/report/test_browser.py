"""Open exported reports in headless Chromium: they render, show their charts, run nothing.

Needs Debian's ``chromium`` (``apt-get install chromium``). Skipped with a
reason when it is missing, unless the environment variable ``CI`` is set, in
which case a missing browser is a failure. Screenshots are kept in
``tests/artifacts/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import papermill as pm
import pytest
from conftest import shared_once

from modqa_lib.report.export import export_html

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
]


def find_chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None and Path("/usr/bin/chromium").exists():
        exe = "/usr/bin/chromium"
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed: apt-get install -y chromium")
        pytest.skip("headless chromium not installed (apt-get install -y chromium); with CI set this is a failure")
    return exe


def run_chromium(exe: str, url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def console_lines(stderr: str) -> list[str]:
    """Page console messages (errors, CSP violations, uncaught exceptions) from chromium's log."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def _build(exe: str):
    def build(folder: Path) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        results = {}
        for name, params in (("report_fixture", {"vendor": "Vendor A"}), ("xss_fixture", {})):
            nb = folder / f"{name}.ipynb"
            pm.execute_notebook(
                str(FIXTURES / f"{name}.ipynb"),
                str(nb),
                parameters=params,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                execution_timeout=180,
                resources={"metadata": {"path": str(FIXTURES)}},
            )
            html = folder / f"{name}.html"
            res = export_html(
                nb, html, f"Browser check: {name}", meta={"period": "last:12", "data_fingerprint": "0123abcd4567ef89"}
            )
            url = html.resolve().as_uri()
            shot = ARTIFACTS / f"browser_{name}.png"
            shot.unlink(missing_ok=True)
            s = run_chromium(exe, url, folder / f"profile-{name}-1", f"--screenshot={shot}", "--window-size=1280,2000")
            d = run_chromium(exe, url, folder / f"profile-{name}-2", "--dump-dom", "--window-size=1280,2000")
            results[name] = {
                "html_bytes": res.size_bytes,
                "screenshot": str(shot),
                "shot_rc": s.returncode,
                "dom_rc": d.returncode,
                "dom": d.stdout,
                "console": console_lines(s.stderr) + console_lines(d.stderr),
                "stderr_tail": (s.stderr + d.stderr)[-2000:],
            }
        (folder / "results.json").write_text(json.dumps(results))

    return build


@pytest.fixture(scope="module")
def browsed(tmp_path_factory):
    exe = find_chromium()
    folder = shared_once(tmp_path_factory, "browser", _build(exe))
    return json.loads((folder / "results.json").read_text())


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("name", ["report_fixture", "xss_fixture"])
def test_screenshot_is_a_real_rendering(browsed, name):
    r = browsed[name]
    shot = Path(r["screenshot"])
    assert r["shot_rc"] == 0 and shot.exists(), r["stderr_tail"]
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 15_000
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 100  # text, table, chart: not a blank page
    # the chart's bars (blue) were drawn: the embedded PNG rendered
    blue = sum(n for n, (r_, g, b) in colours if b > 120 and b > r_ + 40 and b > g + 20)
    assert blue > 2_000, blue


@pytest.mark.parametrize("name", ["report_fixture", "xss_fixture"])
def test_no_console_errors_nothing_ran_or_was_blocked(browsed, name):
    r = browsed[name]
    assert r["dom_rc"] == 0, r["stderr_tail"]
    # any console line would mean a script ran, failed, or was blocked by the CSP
    assert r["console"] == []


def test_dom_has_images_header_and_no_script(browsed):
    from bs4 import BeautifulSoup

    for name, r in browsed.items():
        soup = BeautifulSoup(r["dom"], "html.parser")
        imgs = [i for i in soup.find_all("img") if i.get("src", "").startswith("data:image/png;base64,")]
        assert imgs, name
        assert soup.find("header", class_="modqa-header") is not None
        assert soup.find_all("script") == []
        assert soup.title.get_text() == f"Browser check: {name}"  # the JavaScript output did not run


def test_export_size_is_reasonable(browsed):
    for r in browsed.values():
        assert r["html_bytes"] < 3_000_000
