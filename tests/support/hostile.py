"""Hypothesis strategies for webhook bodies no provider sends: what an attacker or a broken proxy might."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from switchboard.channels import kakao, line, meta, telegram, twilio
from switchboard.email.providers import base as mail_providers
from tests.support.drivers import ChannelDriver

random_bytes = st.binary(max_size=4096)

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)
random_json = st.tuples(_json_values, st.booleans()).map(
    lambda drawn: json.dumps(drawn[0], ensure_ascii=drawn[1]).encode("utf-8", errors="surrogatepass")
)

# Deeper than any JSON parser recurses by default (Python's gives up near 10,000 levels).
deep_nesting = st.tuples(st.integers(100, 60_000), st.sampled_from([(b"[", b"]"), (b'{"entry":', b"}")])).map(
    lambda drawn: drawn[1][0] * drawn[0] + b"0" + drawn[1][1] * drawn[0]
)

# Longer than Python's int() reads (4,300 digits), or beyond any float.
huge_numbers = st.tuples(
    st.integers(300, 20_000), st.sampled_from([b"%s", b"-%s", b"1e%s", b'{"object":%s}', b"[%s]"])
).map(lambda drawn: drawn[1] % (b"9" * drawn[0]))


def hostile_bodies(driver: ChannelDriver) -> st.SearchStrategy[bytes]:
    """Bodies the channel's adapter must refuse as malformed, whoever signed them."""
    return st.one_of(random_bytes, random_json, deep_nesting, huge_numbers, driver.malformed_bodies())


# Each route's body cap: a larger body is refused with 413 before anything reads it.
_BODY_CAPS = {
    "whatsapp": meta.MAX_BODY_BYTES,
    "messenger": meta.MAX_BODY_BYTES,
    "instagram": meta.MAX_BODY_BYTES,
    "line": line.MAX_BODY_BYTES,
    "telegram": telegram.MAX_BODY_BYTES,
    "kakao": kakao.MAX_BODY_BYTES,
    "twilio": twilio.MAX_BODY_BYTES,
}


def body_cap(driver: ChannelDriver) -> int:
    """The largest body the driver's route reads (the mail webhooks share Lambda's 6 MB)."""
    return _BODY_CAPS.get(driver.name, mail_providers.MAX_BODY_BYTES)
