"""Rotating the reply-token key: replies to mail signed with a retired key still find their ticket, and
nothing else in the email secret is taken for a key."""

from switchboard.email.reply_address import reply_token, reply_token_keys, ticket_id_of_token

TICKET = "t_0123456789abcdef01234567"


def test_the_current_key_comes_first_then_the_retired_ones():
    secret = {"reply_token_key": "new", "retired_reply_token_keys": ["old", "older"], "other": "x"}
    assert reply_token_keys(secret) == ["new", "old", "older"]


def test_a_reply_to_mail_signed_with_a_retired_key_still_names_its_ticket():
    # Given a token made before the key was rotated
    token = reply_token(TICKET, "old")
    # When the secret has a new key and keeps the old one as retired
    keys = reply_token_keys({"reply_token_key": "new", "retired_reply_token_keys": ["old"]})
    # Then the token still names its ticket, and once the old key is dropped it names none
    assert ticket_id_of_token(token, keys) == TICKET
    assert ticket_id_of_token(token, reply_token_keys({"reply_token_key": "new"})) is None


def test_a_malformed_retired_list_or_a_missing_key_verifies_nothing():
    keys = reply_token_keys({"retired_reply_token_keys": "old"})
    assert keys == [""]
    assert ticket_id_of_token(reply_token(TICKET, "old"), keys) is None
