"""Where moto is more lenient than AWS in ways that would hide our bugs, make it as strict as AWS.

- DynamoDB refuses a GetItem or Query whose partition key exceeds 2048 bytes (ValidationException);
  moto enforces the limit on writes only.
- SQS refuses a message body with characters outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
  #x10000-#x10FFFF (InvalidMessageContents); moto accepts anything.
"""

from __future__ import annotations

import re
from functools import wraps

_SQS_REFUSES = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_installed = False


def sqs_refuses(body: str) -> str | None:
    """The first character of `body` SQS would refuse, if any."""
    found = _SQS_REFUSES.search(body)
    return found.group() if found else None


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.exceptions import HashKeyTooLong
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.sqs.exceptions import SQSException
    from moto.sqs.models import SQSBackend

    def refuse_long_partition_key(value) -> None:
        if value and DynamoType(value).size() > HASH_KEY_MAX_LENGTH:
            raise HashKeyTooLong

    get_item = DynamoDBBackend.get_item

    @wraps(get_item)
    def strict_get_item(self, table_name, keys, *args, **kwargs):
        refuse_long_partition_key(keys.get(self.get_table(table_name).hash_key_attr))
        return get_item(self, table_name, keys, *args, **kwargs)

    query = DynamoDBBackend.query

    @wraps(query)
    def strict_query(self, table_name, hash_key_dict, *args, **kwargs):
        refuse_long_partition_key(hash_key_dict)
        return query(self, table_name, hash_key_dict, *args, **kwargs)

    validate_message = SQSBackend._validate_message

    @wraps(validate_message)
    def strict_validate_message(self, queue, message_body, *args, **kwargs):
        refused = sqs_refuses(message_body)
        if refused is not None:
            raise SQSException(
                "InvalidMessageContents", f"Invalid characters found. Deleted message body contains {refused!r}."
            )
        return validate_message(self, queue, message_body, *args, **kwargs)

    DynamoDBBackend.get_item = strict_get_item
    DynamoDBBackend.query = strict_query
    SQSBackend._validate_message = strict_validate_message
    _installed = True
