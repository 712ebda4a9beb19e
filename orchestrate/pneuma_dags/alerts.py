"""Failure alerts from the environment: e-mail through SmtpNotifier, a webhook through Apprise.

- E-mail when `PNEUMA_ALERT_EMAILS` lists recipients (comma-separated); the server is Airflow's
  `smtp_default` connection (`AIRFLOW_CONN_SMTP_DEFAULT`, e.g. `smtp://user:pass@host:587`), the
  sender `PNEUMA_ALERT_FROM` (default `pneuma-warehouse@localhost`).
- A webhook when Airflow's `apprise_default` connection is set in the environment
  (`AIRFLOW_CONN_APPRISE_DEFAULT`, its extra `{"config": {"path": "json://host/path"}}`, or a
  `slack://` or any other Apprise URL).

With neither, no callback is attached and nothing is attempted. The callbacks are task-level
(`on_failure_callback` in default_args): they run once, after a task's last try, under the
scheduler and under `airflow dags test` alike (a DAG-level callback is not called by `dags test`
in Airflow 3.3.2). Each message names the DAG, the task, the recording (the mapped task's shard)
and the first line of the error.
"""

from __future__ import annotations

import os
from typing import Any

SUBJECT = (
    "[pneuma] {{ dag.dag_id }} failed: {{ ti.task_id }}"
    "{% if ti.map_index is not none and ti.map_index >= 0 %}"
    " [{{ ti.rendered_map_index or ti.map_index }}]{% endif %}"
)
# One fact per line, so the plain-text webhook and the e-mail say the same.
FACTS = (
    ("DAG", "{{ dag.dag_id }}"),
    ("Run", "{{ run_id }}"),
    ("Task", "{{ ti.task_id }}"),
    (
        "Recording",
        (
            "{% if ti.map_index is not none and ti.map_index >= 0 %}"
            "{{ ti.rendered_map_index or ti.map_index }}{% else %}(all){% endif %}"
        ),
    ),
    ("Try", "{{ ti.try_number }}"),
    ("Error", "{{ ((exception | string).splitlines() or ['unknown']) | first }}"),
)
TEXT_BODY = "\n".join(f"{label}: {value}" for label, value in FACTS)
HTML_BODY = "<p>" + "<br>\n".join(f"<b>{label}</b>: {value}" for label, value in FACTS) + "</p>"


def recipients(env: dict[str, str] | None = None) -> list[str]:
    """The e-mail addresses in PNEUMA_ALERT_EMAILS."""
    env = os.environ if env is None else env
    return [
        address.strip()
        for address in env.get("PNEUMA_ALERT_EMAILS", "").split(",")
        if address.strip()
    ]


def failure_callbacks(env: dict[str, str] | None = None) -> list[Any]:
    """The notifiers the environment configures (possibly none)."""
    env = os.environ if env is None else env
    callbacks: list[Any] = []
    if to := recipients(env):
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier  # noqa: PLC0415

        callbacks.append(
            SmtpNotifier(
                to=to,
                from_email=env.get("PNEUMA_ALERT_FROM") or "pneuma-warehouse@localhost",
                subject=SUBJECT,
                html_content=HTML_BODY,
            ),
        )
    if env.get("AIRFLOW_CONN_APPRISE_DEFAULT"):
        from airflow.providers.apprise.notifications.apprise import (  # noqa: PLC0415
            AppriseNotifier,
        )

        callbacks.append(AppriseNotifier(title=SUBJECT, body=TEXT_BODY))
    return callbacks
