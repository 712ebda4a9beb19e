"""The `superset-bi` utility, its dashboards in a real browser and the read-only role.

Pinned install, import and export of analyze/, the read-only role, the dashboards in a real
headless chromium, and clear messages for bad configuration.

One warehouse (demo data through `meltano run pneuma-elt`) and one Superset (`superset-bi:serve`,
a fresh metadata DB) serve the whole module: Superset's start costs minutes on a busy machine.
"""

# The fixtures come from superset_server (see there): their parameters "redefine" the imports.
# ruff: noqa: F811
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import yaml
from packaging.markers import Marker
from psycopg import sql
from superset_server import (  # noqa: F401 - fixtures
    ASSETS_DIR,
    PROJECT_ROOT,
    SUPERSET_VENV,
    Superset,
    superset,
    warehouse,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import MeltanoProject

REQUIREMENTS = PROJECT_ROOT / "plugins" / "requirements" / "requirements.superset.txt"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1600,1300",
)
RENDER_TIMEOUT_S = 240
READER = "pneuma_reader"


def _yaml_tree(directory: Path) -> dict[str, object]:
    return {
        path.relative_to(directory).as_posix(): yaml.safe_load(path.read_text())
        for path in sorted(directory.rglob("*.yaml"))
    }


def _dashboards() -> dict[str, dict]:
    return {
        config["slug"]: config
        for config in (
            yaml.safe_load(path.read_text()) for path in (ASSETS_DIR / "dashboards").glob("*.yaml")
        )
    }


# -- install, import, export -------------------------------------------------------------------


def test_superset_is_installed_from_the_pinned_requirements() -> None:
    # the universal lock pins some packages per Python version: keep the lines for this one
    pins = {
        name: version
        for name, version, marker in re.findall(
            r"^([A-Za-z0-9_.\-]+)==([^\s;]+)(?: ; (.+))?$", REQUIREMENTS.read_text(), re.MULTILINE
        )
        if not marker or Marker(marker).evaluate()
    }
    assert pins["apache-superset"] == "6.1.0"
    assert pins["flask-caching"] == "2.4.1"
    assert {"rich", "cachetools", "selenium"} <= pins.keys()
    freeze = subprocess.run(
        [str(SUPERSET_VENV / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=False,
    )
    if freeze.returncode != 0:  # uv-made venvs may lack pip: ask importlib.metadata instead
        freeze = subprocess.run(
            [
                str(SUPERSET_VENV / "bin" / "python"),
                "-c",
                (
                    "import importlib.metadata as m\n"
                    "for d in m.distributions(): print(f\"{d.metadata['Name']}=={d.version}\")"
                ),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    installed = {
        name.lower().replace("_", "-"): version
        for name, version in re.findall(r"^(\S+)==(\S+)$", freeze.stdout, re.MULTILINE)
    }
    wrong = {
        name: (version, installed.get(name.lower().replace("_", "-")))
        for name, version in pins.items()
        if installed.get(name.lower().replace("_", "-"), version) != version
    }
    assert not wrong, f"installed versions differ from {REQUIREMENTS.name}: {wrong}"


def test_serve_imports_every_committed_object_into_a_fresh_metadata_db(superset: Superset) -> None:
    log = superset.output.read_text()
    committed = _yaml_tree(ASSETS_DIR)
    counts = {
        section: sum(1 for name in committed if name.startswith(f"{section}/"))
        for section in ("databases", "datasets", "charts", "dashboards")
    }
    assert (
        f"{counts['databases']} databases, {counts['datasets']} datasets, "
        f"{counts['charts']} charts, {counts['dashboards']} dashboards"
    ) in log
    served = superset.api_get("/api/v1/dashboard/?q=(page_size:100)")["result"]
    assert sorted(d["dashboard_title"] for d in served) == sorted(
        d["dashboard_title"] for d in _dashboards().values()
    )
    charts = superset.api_get("/api/v1/chart/?q=(page_size:100)")["result"]
    assert len(charts) == counts["charts"]


def test_export_after_import_gives_back_the_committed_files(
    superset: Superset, tmp_path: Path
) -> None:
    exported = tmp_path / "assets"
    result = superset.invoke("export_dashboards", PNEUMA_SUPERSET_ASSETS=str(exported))
    assert result.returncode == 0, result.stdout[-4000:]
    assert _yaml_tree(exported) == _yaml_tree(ASSETS_DIR)


# -- the read-only role ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader(warehouse: MeltanoProject) -> Iterator[psycopg.Connection]:
    """A session of the read-only role on the warehouse (autocommit: each statement alone)."""
    config = warehouse.config
    with psycopg.connect(
        host=config.host,
        port=config.port,
        dbname=config.database,
        user=READER,
        password=config.password,
        autocommit=True,
    ) as connection:
        yield connection


def _relations(warehouse: MeltanoProject, schema: str) -> list[str]:
    rows = warehouse.query(
        "select table_name from information_schema.tables where table_schema = %s", (schema,)
    )
    return sorted(name for (name,) in rows)


def test_reader_reads_every_mart(warehouse: MeltanoProject, reader: psycopg.Connection) -> None:
    marts = _relations(warehouse, "analytics_marts")
    assert {
        "dim_recordings",
        "dim_vehicles",
        "fct_trajectory_points",
        "fct_vehicle_trips",
        "fct_stop_events",
        "agg_traffic_grid",
    } <= set(marts)
    for mart in marts:
        query = sql.SQL("select count(*) from analytics_marts.{}").format(sql.Identifier(mart))
        (count,) = reader.execute(query).fetchone()
        assert count > 0, mart


@pytest.mark.parametrize(
    "statement",
    [
        # the tables of the marts (the partitioned marts and dim_recordings are views)
        "insert into analytics_marts.vehicle_types (vehicle_type) values ('x')",
        "update analytics_marts.dim_vehicles set vehicle_type = 'x'",
        "delete from analytics_marts.dim_vehicles",
        "truncate analytics_marts.agg_traffic_grid",
        "create table analytics_marts.mine (x int)",
        "create table public.mine (x int)",
        "create temporary table mine (x int)",
        "create schema mine",
        "drop table analytics_marts.dim_vehicles",
        "alter table analytics_marts.dim_vehicles add column x int",
    ],
)
def test_reader_is_refused_writes_and_ddl(reader: psycopg.Connection, statement: str) -> None:
    with pytest.raises(
        (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)
    ):
        reader.execute(statement)


def test_reader_cannot_escape_its_read_only_transactions(reader: psycopg.Connection) -> None:
    with reader.transaction():
        reader.execute("set transaction read write")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("create table public.mine (x int)")


def test_reader_is_refused_the_raw_and_intermediate_schemas(
    warehouse: MeltanoProject, reader: psycopg.Connection
) -> None:
    hidden = [
        (schema, name)
        for schema in ("tap_pneuma", "analytics_intermediate", "analytics_staging")
        for name in _relations(warehouse, schema)
    ]
    assert {schema for schema, _ in hidden} == {
        "tap_pneuma",
        "analytics_intermediate",
        "analytics_staging",
    }
    for schema, name in hidden:
        query = sql.SQL("select 1 from {}.{} limit 1").format(
            sql.Identifier(schema), sql.Identifier(name)
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(query)


# -- the dashboards in a real browser ----------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, through chromium-driver (`make browser` installs both)."""
    from selenium import webdriver  # noqa: PLC0415 - only this test needs Selenium
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromium-driver are missing: `make browser` installs them")
    options = webdriver.ChromeOptions()
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    options.binary_location = chromium
    session = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield session
    finally:
        session.quit()


CHART_STATE_JS = """
return [...document.querySelectorAll('[data-test-chart-id]')].map((chart) => ({
  name: chart.getAttribute('data-test-chart-name'),
  viz: chart.getAttribute('data-test-viz-type'),
  loading: !!chart.querySelector('[data-test="loading-indicator"], .loading'),
  error: (chart.querySelector('.ant-alert-error, [role="alert"]') || {}).innerText || null,
  empty: !!chart.querySelector('[data-test="empty-state"], .empty-state'),
  drawn: !!chart.querySelector('canvas, table tbody tr, .header-line'),
}));
"""


def _log_in(browser: object, superset: Superset) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support import expected_conditions  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    browser.get(f"{superset.url}/login/")
    wait = WebDriverWait(browser, 120)
    wait.until(expected_conditions.presence_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys(superset.env["SUPERSET_ADMIN_PASSWORD"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda driver: "/login" not in driver.current_url)


def _wait_rendered(browser: object, expected: int) -> list[dict]:
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    states: list[dict] = []
    while time.monotonic() < deadline:
        states = browser.execute_script(CHART_STATE_JS)
        settled = [
            s for s in states if not s["loading"] and (s["error"] or s["empty"] or s["drawn"])
        ]
        if len(states) == expected and len(settled) == expected:
            return states
        time.sleep(2)
    pytest.fail(f"charts did not render within {RENDER_TIMEOUT_S} s: {states}")


def test_every_dashboard_renders_every_chart_with_data(
    superset: Superset, browser: object, tmp_path: Path
) -> None:
    _log_in(browser, superset)
    shots = Path(os.environ.get("PNEUMA_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    problems = {}
    for slug, dashboard in sorted(_dashboards().items()):
        expected = sum(1 for item in dashboard["position"].values() if _is_chart(item))
        browser.get(f"{superset.url}/superset/dashboard/{slug}/")
        states = _wait_rendered(browser, expected)
        time.sleep(2)  # let the canvases finish their animation before the screenshot
        _full_page_screenshot(browser, shots / f"{slug}.png")
        bad = [s for s in states if s["error"] or s["empty"] or not s["drawn"]]
        if bad:
            problems[slug] = bad
    assert not problems, f"charts with errors or without data: {problems}"


def _is_chart(item: object) -> bool:
    return isinstance(item, dict) and item.get("type") == "CHART"


def _full_page_screenshot(browser: object, path: Path) -> None:
    height = browser.execute_script(
        "return document.querySelector('.dashboard-content, body').scrollHeight"
    )
    browser.set_window_size(1600, max(1000, min(int(height) + 200, 3000)))
    time.sleep(1)
    browser.save_screenshot(str(path))
    browser.set_window_size(1600, 1300)
