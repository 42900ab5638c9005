"""Makes moto's DynamoDB apply each request atomically, as DynamoDB does.

moto evaluates a condition and then writes in plain Python, so two threads can both pass the
same `attribute_not_exists` check; real DynamoDB never lets that happen to one item or one
transaction. Serializing moto's request handling restores that guarantee, so concurrency tests
check our logic, not moto's races. Interleaving *between* requests is untouched.
"""

from __future__ import annotations

import threading
from functools import wraps

_lock = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @wraps(original)
    def call_action_atomically(self, *args, **kwargs):
        with _lock:
            return original(self, *args, **kwargs)

    DynamoHandler.call_action = call_action_atomically
    _installed = True
