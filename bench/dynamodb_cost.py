"""DynamoDB requests and capacity units the ticket writer spends per inbound message.

Requests are counted with a botocore `before-call` hook on the writer's own DynamoDB client. moto does
not report ConsumedCapacity, so units are computed from the items with DynamoDB's published rules:
  item size  = sum over attributes of UTF-8 name bytes + value bytes (string: UTF-8 bytes; number:
               1 byte per 2 significant digits + 1; boolean/null: 1; list/map: 3 + 1 per element + elements)
  write      = ceil(larger of the item's size before and after / 1 KB) WCU, doubled inside a transaction
  index      = for each global secondary index the write puts, updates or deletes an entry in:
               ceil(entry size / 1 KB) WCU per entry written (a changed index key is a delete plus a put)
  read       = ceil(size / 4 KB) RCU per strongly consistent item read (a missing item still costs 1)
On-demand tables bill the same numbers as write/read request units.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3

from bench.workload import (
    WRITER,
    function_environment,
    function_spec,
    hooked_default_session,
    inbound_events,
    logs_discarded,
    writer_batch,
)
from infra.functions import LambdaContext, load_function
from infra.provision import REGION

_WRITES = ("Put", "Update", "Delete", "ConditionCheck")


def number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    significant = "".join(map(str, digits)).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in content)
    if kind == "NS":
        return sum(number_size(n) for n in content)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int, transactional: bool) -> int:
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


@dataclass
class Cost:
    operations: list[str] = field(default_factory=list)
    items_written: int = 0
    table_write_units: int = 0
    index_write_units: int = 0
    read_units: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.operations)


def _projection(image: dict[str, Any] | None, index: dict[str, Any], table_keys: list[str]) -> dict[str, Any] | None:
    """The index entry an item image makes, or None when the item lacks the index's keys (sparse index)."""
    index_keys = [key["AttributeName"] for key in index["KeySchema"]]
    if not image or not all(name in image for name in index_keys):
        return None
    projection = index.get("Projection", {})
    if projection.get("ProjectionType", "ALL") == "ALL":
        return image
    kept = {*table_keys, *index_keys, *projection.get("NonKeyAttributes", [])}
    return {name: value for name, value in image.items() if name in kept}


def index_write_units(before: dict | None, after: dict | None, index: dict[str, Any], table_keys: list[str]) -> int:
    """DynamoDB's rule for a table write's cost in one global secondary index: a put when the item enters
    the index, a delete when it leaves, both when its index key changes, one update when only projected
    attributes change, nothing when its entry is unchanged or it is in the index neither before nor after."""
    old, new = _projection(before, index, table_keys), _projection(after, index, table_keys)
    if old == new:
        return 0
    index_keys = [key["AttributeName"] for key in index["KeySchema"]]
    if old is not None and new is not None and all(old[k] == new[k] for k in index_keys):
        return write_units(item_size(new), transactional=False)
    return sum(write_units(item_size(entry), transactional=False) for entry in (old, new) if entry is not None)


class CostMeter:
    """Hooks a DynamoDB client: counts its requests and sizes what each one reads and writes.

    Item images before and after a write are read through a separate, unhooked client, so the meter
    itself adds nothing to the counts."""

    def __init__(self, table_name: str, table_properties: dict[str, Any], inspector) -> None:
        self._table = table_name
        self._keys = [key["AttributeName"] for key in table_properties["KeySchema"]]
        self._indexes = table_properties.get("GlobalSecondaryIndexes", [])
        self._inspector = inspector
        self.cost = Cost()

    @property
    def hooks(self) -> dict:
        return {"before-call.dynamodb": self._before, "after-call.dynamodb": self._after}

    def _key_of(self, body: dict[str, Any]) -> dict[str, Any]:
        return body.get("Key") or {name: body["Item"][name] for name in self._keys}

    def _image(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._inspector.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")

    def _writes_of(self, operation: str, request: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
        if operation == "TransactWriteItems":
            return [
                (body, True) for entry in request["TransactItems"] for kind, body in entry.items() if kind in _WRITES
            ]
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(request, False)]
        return []

    def _before(self, model, params, context, **_) -> None:
        request = json.loads(params["body"])
        self.cost.operations.append(
            f"{model.name}[{len(request['TransactItems'])}]" if model.name == "TransactWriteItems" else model.name
        )
        if model.name == "BatchGetItem":
            context["bench_keys_requested"] = sum(len(r["Keys"]) for r in request["RequestItems"].values())
        context["bench_writes"] = [
            (self._key_of(body), self._image(self._key_of(body)), transactional)
            for body, transactional in self._writes_of(model.name, request)
        ]

    def _after(self, model, parsed, context, **_) -> None:
        if "Error" in parsed:
            self.cost.failed.append(parsed["Error"].get("Code", "?"))
            return
        for key, before, transactional in context.get("bench_writes", []):
            after = self._image(key)
            self.cost.items_written += 1
            self.cost.table_write_units += write_units(max(item_size(before), item_size(after)), transactional)
            self.cost.index_write_units += sum(
                index_write_units(before, after, index, self._keys) for index in self._indexes
            )
        if model.name == "GetItem":
            self.cost.read_units += read_units(item_size(parsed.get("Item")))
        elif model.name == "BatchGetItem":
            found = [item for items in parsed.get("Responses", {}).values() for item in items]
            missing = context["bench_keys_requested"] - len(found)
            self.cost.read_units += sum(read_units(item_size(item)) for item in found) + missing
        elif model.name == "Query":
            self.cost.read_units += read_units(sum(item_size(item) for item in parsed.get("Items", [])))

    def reset(self) -> Cost:
        cost, self.cost = self.cost, Cost()
        return cost


@dataclass(frozen=True)
class CostRow:
    case: str
    cost: Cost


def measure(stack) -> list[CostRow]:
    """Replays three messages of one new customer, then a redelivery, through the writer handler; meters each."""
    spec = function_spec(stack, WRITER)
    table = stack.ref("TicketsTable")
    queue_arn = stack.attribute("InboundQueue", "Arn")
    first, second, third = inbound_events(customers=1, messages_per_customer=3)
    table_properties = stack.resolver.resolve(stack.template["Resources"]["TicketsTable"]["Properties"])
    meter = CostMeter(table, table_properties, boto3.Session(region_name=REGION).client("dynamodb"))

    with function_environment(stack.environment_of(WRITER)), logs_discarded(), hooked_default_session(meter.hooks):
        handler = load_function(spec)
        rows = []
        for case, event in (
            ("first message, new customer", first),
            ("message on an existing ticket", second),
            ("next message on that ticket", third),
            ("redelivery of a stored message", second),
        ):
            result = handler(
                writer_batch([event], queue_arn), LambdaContext(WRITER, f"bench-{len(rows)}", spec.timeout)
            )
            if result["batchItemFailures"]:
                raise RuntimeError(f"the writer failed on '{case}': {result}")
            rows.append(CostRow(case, meter.reset()))
    return rows
