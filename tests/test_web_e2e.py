"""End-to-end: the web UI in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium), against `aiexport serve` running as a process on a free local port (issue #7,
acceptance): log in with a key, classify a chip, check a transaction, upload a batch and download
the result, decide a screening hit, switch to Chinese, open the chip map. Screenshots of each step
are saved in tests/artifacts/ (git-ignored).

The browser runs without network (--disable-background-networking etc., a fresh profile); the
server's log is checked at the end for any key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import aiexport_exe, served
from tests.test_api_support import BOOK_CSV, CSL_2026, csl_rows, name_of, small_list

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = [
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                       reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)"),
    pytest.mark.skipif(not CSL_2026.exists(), reason="shared list data not present"),
]


class Server:
    def __init__(self, base: str, env: dict[str, str], log: Path, keys: dict[str, str]):
        self.base, self.env, self.log, self.keys = base, env, log, keys

    def api(self, method: str, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=60, **kw)


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([aiexport_exe(), *args], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "AIEXPORT_HOME": str(folder / "home"), "AIEXPORT_DATABASE_URL": f"sqlite:///{folder / 'aiexport.db'}",
           "NO_COLOR": "1"}
    env.pop("AIEXPORT_USER", None)
    keys = {role: _cli(env, "keys", "create", "--role", role, "--name", f"e2e {role}").strip().splitlines()[-1]
            for role in ("viewer", "analyst", "admin")}
    log = folder / "server.log"
    with served([], env, log) as (_, base, _):
        srv = Server(base, env, log, keys)
        # data for the pages: a list with a screened party (a hit to review) and a licence with draws
        lst = small_list(folder / "list.csv")
        assert srv.api("POST", "/v1/lists", files={"file": ("list.csv", lst.read_bytes(), "text/csv")}).status_code == 200
        listed = name_of(csl_rows("EL", 1)[0])
        r = srv.api("POST", "/v1/screening/record", "analyst", json={"names": [{"id": "c1", "name": listed}]})
        assert r.status_code == 200 and r.json()["results"][0]["decision"] == "alert"
        assert srv.api("POST", "/v1/licences", json={"number": "D765432", "quantity": 200, "countries": ["AE"]}).status_code == 200
        srv.api("POST", "/v1/licences/draw", "analyst", json={"quantity": 50, "txn": "SO-9", "number": "D765432", "country": "AE"})
        yield srv


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    profile = tmp_path_factory.mktemp("chromium-profile")
    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=opts, service=DriverService(executable_path=DRIVER))
    driver.downloads = downloads  # type: ignore[attr-defined]
    driver.implicitly_wait(0)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"e2e-{name}.png"))


def wait_for(driver: Any, css: str, text: str | None = None, timeout: float = 30) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            found = driver.find_elements(By.CSS_SELECTOR, css)
            if found and (text is None or any(text in f.text for f in found)):
                return found[0]
        except StaleElementReferenceException:
            pass  # the page swapped the element (an HTMX poll) between finding and reading it: look again
        time.sleep(0.1)
    shot(driver, "timeout")
    raise AssertionError(f"{css!r} with {text!r} did not appear; page: {driver.page_source[:1500]}")


def test_the_web_ui_in_chromium(server: Server, browser: Any, tmp_path: Path):
    from selenium.webdriver.common.by import By

    d = browser
    # log in with a key (the analyst: may decide hits)
    d.get(server.base + "/")
    wait_for(d, "#login-form")
    shot(d, "1-login")
    d.find_element(By.ID, "key").send_keys(server.keys["analyst"])
    d.find_element(By.ID, "login").click()
    wait_for(d, "#classify-form")
    cookie = d.get_cookie("aiexport_session")
    assert cookie and cookie["httpOnly"] and cookie["secure"]
    assert d.execute_script("return document.cookie").find("aiexport_session") < 0  # HttpOnly: not readable by scripts

    # classify a chip. 15 CFR 774 Supp. 1, ECCN 3A090.a.1 (88 FR 73458): TPP >= 4,800; the H100 SXM has 15,832
    d.find_element(By.ID, "classify-name").send_keys("H100")
    d.find_element(By.ID, "classify-submit").click()
    wait_for(d, "#control", "3A090.a")
    shot(d, "2-classify")

    # check a transaction: an H100 to a datacenter in China needs a licence (15 CFR 742.6(a)(6), 744.23)
    form = {"check-item": "H100", "check-destination": "CN"}
    for el_id, value in form.items():
        d.find_element(By.ID, el_id).clear()
        d.find_element(By.ID, el_id).send_keys(value)
    for name, value in (("consignee_country", "CN"), ("consignee_hq_country", "CN"), ("ultimate_parent_hq_country", "CN"),
                        ("end_use", "datacenter"), ("party_list_status", "none"), ("item_origin", "us_origin")):
        d.find_element(By.CSS_SELECTOR, f"#check-form [name={name}]").send_keys(value)
    d.find_element(By.ID, "check-submit").click()
    wait_for(d, "#verdict", "license_required")
    shot(d, "3-check")

    # upload a batch, watch it finish, download the result
    book = tmp_path / "orders.csv"
    book.write_text(BOOK_CSV)
    d.find_element(By.ID, "nav-batch").click()
    wait_for(d, "#batch-form")
    d.find_element(By.ID, "batch-file").send_keys(str(book))
    d.find_element(By.ID, "batch-submit").click()
    wait_for(d, "#job-state", "done", timeout=60)
    wait_for(d, "#summary")
    shot(d, "4-batch")
    d.find_element(By.ID, "download-csv").click()
    got = None
    for _ in range(100):
        files = [p for p in d.downloads.iterdir() if p.suffix == ".csv"]
        if files:
            got = files[0]
            break
        time.sleep(0.1)
    assert got is not None, "the CSV was not downloaded"
    lines = got.read_text().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 6 and lines[1].startswith("o1,")

    # decide a screening hit (a false match, with a reason)
    d.find_element(By.ID, "nav-review").click()
    row = wait_for(d, "tr.hit[data-status=open]")
    shot(d, "5-review")
    row.find_element(By.NAME, "reason").send_keys("different address and business")
    row.find_element(By.CSS_SELECTOR, "button.decide-false").click()
    wait_for(d, "tr.hit[data-status=suppressed]", "Decided")
    shot(d, "6-decided")
    hits = server.api("GET", "/v1/screening/hits", params={"include_cleared": True}).json()
    assert hits[0]["status"] == "suppressed" and "e2e analyst" in hits[0]["decision"]["reviewer"]

    # switch to Chinese
    d.find_element(By.ID, "lang-switch").click()
    wait_for(d, "h1", "筛查复核队列")
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    shot(d, "7-review-zh")

    # the chip map (in Chinese: the language stays), then a chip's timeline
    d.find_element(By.ID, "nav-chips").click()
    wait_for(d, "h1", "芯片图")
    circles = d.find_elements(By.CSS_SELECTOR, "svg#chipmap circle.chip")
    assert len(circles) >= 10
    shot(d, "8-chipmap-zh")
    day = d.find_element(By.ID, "chips-day")
    d.execute_script("arguments[0].value = '2023-06-01'", day)
    d.find_element(By.ID, "chips-draw").click()
    wait_for(d, "svg#chipmap[aria-label='chip map 2023-06-01']")
    shot(d, "9-chipmap-2023")
    d.get(server.base + "/chips/A800")
    wait_for(d, "#timeline", "3A090")
    shot(d, "10-timeline")

    # licences (chart) and the audit record (verify)
    d.find_element(By.ID, "nav-licences").click()
    wait_for(d, "svg#licence-chart")
    shot(d, "11-licences")
    d.find_element(By.ID, "nav-audit").click()
    wait_for(d, "#verify").click()
    wait_for(d, "#verify-result", "完整")
    shot(d, "12-audit")
    records = server.api("GET", "/v1/audit/records", params={"limit": 500}).json()
    web = [r for r in records if r["input"].get("via") == "web"]
    assert {r["kind"] for r in web} >= {"classify", "check", "screening_decision"}
    assert all(r["user"].startswith("e2e analyst") for r in web)
    batch = [r for r in records if r["batch_id"]]
    assert len(batch) == 5

    # no secret in the server's log
    log = server.log.read_text()
    assert "POST /login" in log or "/login" in log
    for key in server.keys.values():
        assert key not in log
    json.dumps(records)  # the record is plain JSON
