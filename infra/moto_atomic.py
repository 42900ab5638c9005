"""Makes moto's DynamoDB and S3 apply each write atomically, as the services do.

moto evaluates a condition and then writes in plain Python, so two threads can both pass the
same `attribute_not_exists` check; real DynamoDB never lets that happen to one item or one
transaction. Serializing moto's request handling restores that guarantee, so concurrency tests
check our logic, not moto's races. Interleaving *between* requests is untouched.

S3 replaces an object atomically when two PUTs of one key race (the last one wins). moto closes the
replaced object's buffer while the other PUT may still be reading it for its event notification
(ValueError: I/O operation on closed file), so its puts are serialized too.
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

    DynamoHandler.call_action = call_action_atomically  # type: ignore[method-assign]  # the patch itself

    from moto.s3.models import S3Backend

    original_put = S3Backend.put_object

    @wraps(original_put)
    def put_object_atomically(self, *args, **kwargs):
        with _lock:
            return original_put(self, *args, **kwargs)

    S3Backend.put_object = put_object_atomically  # type: ignore[method-assign]  # the patch itself
    _installed = True
