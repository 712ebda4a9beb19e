"""Run the tap in-process and keep what it emits (imported by the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from singer_sdk.singerlib.encoding.base import GenericSingerWriter

from tap_pneuma.tap import TapPneuma

if TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class MessageCollector(GenericSingerWriter[Any, Any]):
    """A Singer writer that keeps messages as dicts instead of printing them."""

    def __init__(self) -> None:
        """Start empty."""
        self.messages: list[dict[str, Any]] = []

    def serialize_message(self, message: Message) -> dict[str, Any]:  # noqa: D102
        return message.to_dict()

    def write_message(self, message: Message) -> None:  # noqa: D102
        self.messages.append(self.serialize_message(message))


@dataclass
class SyncResult:
    """What one in-process sync emitted."""

    messages: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


def run_sync(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    collector: MessageCollector | None = None,
) -> SyncResult:
    """Run a full sync of the tap in-process and collect its messages."""
    collector = collector or MessageCollector()
    tap = TapPneuma(config=config, state=state, catalog=catalog, message_writer=collector)
    tap.sync_all()
    result = SyncResult(collector.messages)
    for message in collector.messages:
        if message["type"] == "RECORD":
            result.records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            result.state = message["value"]
    return result
