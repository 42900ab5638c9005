"""Personal data never reaches the logs unmasked: phone numbers, emails and message bodies."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """+821012345678 -> +82******5678: enough to tell two customers apart in an incident, not to call them."""
    if not phone:
        return ""
    digits = phone.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(digits)
    shown_head = 2 if len(digits) > 8 else 0
    return (
        ("+" if phone.startswith("+") else "")
        + digits[:shown_head]
        + "*" * (len(digits) - shown_head - 4)
        + digits[-4:]
    )


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return "***" if email else ""
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def describe_text(text: str | None) -> str:
    """What a log may say about a message body: its size, never its words."""
    return f"<{len(text)} chars>" if text else "<empty>"
