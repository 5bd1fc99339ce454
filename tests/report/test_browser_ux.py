"""Reports and the explorer as people use them, in a real browser (Playwright driving Debian's chromium).

- A vendor scorecard export at 1280 px and 390 px: no horizontal overflow of the
  page, the headline on the first screen, and zero axe-core violations (axe-core
  4.10.3 is vendored in ``tests/fixtures/axe/``); at 390 px every chart shows its
  phone variant with text at least 0.9 × body text (each chart kept as a screenshot).
- JupyterLab: start it on a free port, open the RCA explorer, run it, change a
  filter and a slider, and check that the answer line and tables update and that
  no error output appears.

Playwright's Python package launches the system browser (``executable_path``),
so nothing is downloaded. Skipped with a reason when chromium or Playwright is
missing, unless ``CI`` is set (then a failure). Screenshots go to
``tests/artifacts/browser/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import shared_once

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "fixtures" / "axe" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need(what: str, ok: bool) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {what} is missing")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    _need("chromium (apt-get install -y chromium)", exe is not None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - it is a test dependency
        _need("the playwright Python package", False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    def build(folder):
        from modqa_lib.data.ingest import ingest
        from modqa_lib.data.synthetic import write_demo_data

        write_demo_data(folder / "raw", n_decisions=20_000)
        ingest(folder / "raw", folder / "processed")

    return shared_once(tmp_path_factory, "browser_ux_demo", build)


@pytest.fixture(scope="module")
def vendor_export(demo):
    from modqa_lib.run import batch

    res = batch.run_batch(
        by="vendor", only=["Vendor B"], workers=1, processed=demo / "processed", outputs=demo / "out", run_id="ux"
    )
    assert res.ok, res.summary()
    return next((demo / "out" / "ux").glob("vendor-b/*.html"))


@pytest.mark.parametrize("width", [1280, 390])
def test_vendor_export_fits_the_screen_shows_the_headline_first_and_passes_axe(browser, vendor_export, width):
    ctx = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 844})  # CSP would block axe
    page = ctx.new_page()
    page.goto(vendor_export.as_uri())
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the page scrolls sideways at {width} px ({scroll} > {inner})"
    box = page.locator(".modqa-headline").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, "headline not on the first screen"
    assert page.locator("h1").count() == 1 and page.locator("main").count() == 1
    assert page.locator("nav[aria-label='Contents'] a").count() >= 8
    page.screenshot(path=str(ARTIFACTS / f"vendor_scorecard_{width}.png"), full_page=False)
    page.add_script_tag(path=str(AXE))
    res = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert res["violations"] == [], [(v["id"], v["help"], v["nodes"][0]["target"]) for v in res["violations"]]
    _charts_are_readable(page, width)
    if width == 390:  # estimate, interval and status of the headline table without sideways scrolling
        cells = page.locator("table.modqa-reflow").first.locator("td[data-label]")
        labels = [c.get_attribute("data-label") for c in cells.all()]
        assert {"accuracy", "95% CI", "status"} <= set(labels)
        for c in cells.all():
            b = c.bounding_box()
            assert b is None or b["x"] + b["width"] <= width + 1
    ctx.close()


def _charts_are_readable(page, width: int) -> None:
    """Every chart is a <picture>: at 390 px its phone variant is shown, its smallest text at least 0.9 × body text.

    Effective text size = smallest text of the image (px at its natural size, recorded when it was drawn)
    × rendered width / natural width. Each chart is kept as a screenshot.
    """
    charts = page.evaluate(
        """() => [...document.querySelectorAll('picture.modqa-chart img')].map(i =>
             ({shown: i.clientWidth, natural: i.naturalWidth, phone: i.currentSrc !== i.src,
               font: parseFloat(i.dataset.phoneFontPx), alt: i.alt}))"""
    )
    body = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)")
    assert len(charts) >= 5 and body >= 12
    for k, c in enumerate(charts):
        page.locator("picture.modqa-chart img").nth(k).screenshot(path=str(ARTIFACTS / f"chart_{width}_{k}.png"))
        assert c["phone"] == (width <= 640), f"{c['alt'][:60]}: wrong variant at {width} px"
        if width <= 640:
            effective = c["font"] * c["shown"] / c["natural"]
            assert effective >= 0.9 * body, f"{c['alt'][:60]}: text {effective:.1f} px < 0.9 × {body} px"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / "40_rca_explorer.ipynb", root / "40_rca_explorer.ipynb")
    port, token = _free_port(), "modqa-test"
    env = {
        **os.environ,
        "MODQA_PROCESSED_DIR": str(demo / "processed"),
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("MODQA_HEADLESS", None)
    log = open(root / "lab.log", "w")  # noqa: SIM115 - closed in the finaliser
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabServerApp.extension_manager=readonly",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start: " + (root / "lab.log").read_text()[-2000:])
    yield url, token
    print((root / "lab.log").read_text()[-3000:])
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _answer(page) -> str:
    return page.locator(".jp-OutputArea-output", has_text="design-weighted) for").last.inner_text()


def test_explorer_in_jupyterlab_answers_and_updates(browser, lab):
    url, token = lab
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(f"{url}/lab/tree/40_rca_explorer.ipynb?token={token}")
    page.wait_for_selector(".jp-NotebookPanel", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar", timeout=60_000)
    page.wait_for_selector("text=Python 3 (modqa) | Idle", timeout=120_000)  # the kernel is up
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    try:
        page.wait_for_selector("text=design-weighted) for", timeout=180_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "explorer_jupyterlab_failed.png"), full_page=True)
        raise
    first = _answer(page)
    assert first.startswith("Accuracy ") and "95% CI" in first and "n = " in first

    page.locator(".widget-dropdown select").first.select_option("Vendor B")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => e.innerText.includes('for Vendor B'))",
        timeout=60_000,
    )
    after_filter = _answer(page)
    assert "Vendor B" in after_filter and after_filter != first

    handle = page.locator(".noUi-handle").first  # the lower end of the period slider
    handle.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('.jp-OutputArea-output')]"
        ".some(e => e.innerText.includes('design-weighted) for') && !e.innerText.includes(before))",
        arg=after_filter[:120],
        timeout=60_000,
    )
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea table').length >= 2", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "explorer_jupyterlab.png"), full_page=True)
    errors = page.locator(
        "[data-mime-type='application/vnd.jupyter.stderr'], .jp-OutputArea-output:has-text('Traceback')"
    )
    assert errors.count() == 0, errors.first.inner_text()
    ctx.close()
