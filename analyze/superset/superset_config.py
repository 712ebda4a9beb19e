"""Superset configuration of pneuma-warehouse: every value from the environment.

Superset loads this file through SUPERSET_CONFIG_PATH (the `superset-bi` utility's `config_path`
setting) without registering it in sys.modules, so it defines plain values only, no classes.
Meltano exports the utility's settings as the variables read here; see meltano.yml.
"""

import os
from pathlib import Path

from pneuma_superset.settings import generated_secret

SUPERSET_HOME = Path(os.environ.get("SUPERSET_HOME") or Path.home() / ".superset")


# Signs sessions and encrypts the stored warehouse password: never committed. In prod, set
# SUPERSET_SECRET_KEY (a changed key makes stored passwords unreadable: re-import afterwards).
SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY") or generated_secret(SUPERSET_HOME / "secret_key")

SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_DB_URI") or (
    f"sqlite:///{SUPERSET_HOME / 'superset.db'}"
)
SUPERSET_WEBSERVER_ADDRESS = os.environ.get("SUPERSET_HOST", "127.0.0.1")
SUPERSET_WEBSERVER_PORT = int(os.environ.get("SUPERSET_PORT", "8088"))

# Query results and chart data, cached per query for a day: the marts change when a pipeline
# run rebuilds them, and the dashboards' "force refresh" bypasses the cache.
CACHE_DEFAULT_TIMEOUT = 24 * 3600
_FILE_CACHE = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DEFAULT_TIMEOUT": CACHE_DEFAULT_TIMEOUT,
    "CACHE_DIR": str(SUPERSET_HOME / "cache"),
}
CACHE_CONFIG = {**_FILE_CACHE, "CACHE_KEY_PREFIX": "superset_"}
DATA_CACHE_CONFIG = {**_FILE_CACHE, "CACHE_KEY_PREFIX": "superset_data_"}
FILTER_STATE_CACHE_CONFIG = {**_FILE_CACHE, "CACHE_KEY_PREFIX": "superset_filter_"}
EXPLORE_FORM_DATA_CACHE_CONFIG = {**_FILE_CACHE, "CACHE_KEY_PREFIX": "superset_explore_"}
# Login rate limits are counted in memory (one local server; no Redis needed).
RATELIMIT_STORAGE_URI = "memory://"

# No map-tiles key: the deck.gl maps draw the grid cells on the plain background when no tiles
# load (the cells carry the colour scale and the tooltip, not the streets underneath).
MAPBOX_API_KEY = os.environ.get("MAPBOX_API_KEY", "")

FEATURE_FLAGS = {"ALERT_REPORTS": False, "THUMBNAILS": False}
