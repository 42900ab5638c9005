"""What logs may say about a customer: enough to tell two apart in an incident, not to contact them."""

import pytest

from switchboard.masking import describe_text, mask_email, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+821012345678", "+82******5678"),
        ("+16505551234", "+16*****1234"),
        ("821012345678", "82******5678"),
        ("12345678", "****5678"),
        ("+1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_keeps_country_code_and_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("minjun.kim@example.co.kr", "m***@example.co.kr"),
        ("a@b@example.com", "a***@example.com"),
        ("not-an-email", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_email_keeps_first_letter_and_domain(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("text", "described"), [("주문한 신발이 아직 안 왔어요", "<16 chars>"), ("", "<empty>"), (None, "<empty>")]
)
def test_message_body_is_described_by_size_only(text, described):
    assert describe_text(text) == described
