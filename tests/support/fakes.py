"""Stand-ins for boto3 clients, for unit tests of logic that takes its client as a parameter."""

from __future__ import annotations

from typing import Any

from switchboard import queue
from switchboard.models import DeliveryReceipt, InboundMessage


class RecordingSqs:
    """The SQS client of an InboundQueue: keeps every entry sent; refuses the entries whose ids it is told."""

    def __init__(self, refuse_ids: set[str] | None = None) -> None:
        self.batches: list[dict[str, Any]] = []
        self._refuse_ids = refuse_ids or set()

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append({"QueueUrl": QueueUrl, "Entries": Entries})
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": f"m-{e['Id']}"} for e in Entries if e["Id"] not in self._refuse_ids
            ],
            "Failed": [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
                for e in Entries
                if e["Id"] in self._refuse_ids
            ],
        }

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [entry for batch in self.batches for entry in batch["Entries"]]

    @property
    def sent(self) -> list[InboundMessage | DeliveryReceipt]:
        return [queue.decode(entry["MessageBody"]) for entry in self.entries]


class RecordingDynamoDB:
    """A DynamoDB client that answers every Query with `page`, every GetItem with nothing, and remembers
    the requests."""

    def __init__(self, page: dict[str, Any] | None = None) -> None:
        self.queries: list[dict[str, Any]] = []
        self.gets: list[dict[str, Any]] = []
        self._page = page or {"Items": []}

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries.append(request)
        return self._page

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.gets.append(request)
        return {}
