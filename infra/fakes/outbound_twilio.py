"""Twilio's Messages API, faked: POST /twilio/2010-04-01/Accounts/<AccountSid>/Messages.json.

| request | answer |
|---------|--------|
| basic auth neither AccountSid:AuthToken nor ApiKeySid:ApiKeySecret of the configured account | 401 {"code": 20003, "message": "Authenticate"} |
| no To / no From / neither Body nor MediaUrl | 400 21604 / 21603 / 21602 |
| Body over 1,600 characters, more than 10 MediaUrl | 400 21617, 400 21623 |
| To not E.164, To and From on different channels (one "whatsapp:", one not) | 400 21211, 400 21910 |
| To one of Twilio's magic test numbers (below), with or without "whatsapp:" | 400 with that number's error |
| anything else | 201, the Message resource: sid "SM" + 32 hex, status "queued", num_segments, ... |

Twilio's error body is {"code", "message", "more_info", "status"} (its REST API "Errors"). After a 201 with a
StatusCallback, the callbacks Twilio would post go out as receipts to that URL (Receipt.target): "sent", then
"delivered", and for WhatsApp "read". Twilio sends none for the initial status ("Outbound Message Status in
Status Callbacks"). Each is form-encoded with the fields of Twilio's status callback request (AccountSid,
ApiVersion, From, To, MessageSid, MessageStatus, SmsSid, SmsStatus; WhatsApp adds ChannelPrefix and
ChannelToAddress) and signed as Twilio signs webhooks: X-Twilio-Signature = base64(HMAC-SHA1(auth token, URL +
every field's name and value, sorted)), computed here independently of our adapter.

Making a customer refuse: Twilio's test credentials answer a few magic To numbers with a fixed error ("Test
Credentials", Magic Input); this fake answers them the same way, whatever the credentials:

| To | error |
|----|-------|
| +15005550001 | 21211 invalid number |
| +15005550002 | 21612 cannot route |
| +15005550003 | 21408 no permission for the region |
| +15005550004 | 21610 the customer has opted out (STOP) |
| +15005550009 | 21614 not a mobile number |
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from email.utils import format_datetime
from urllib.parse import unquote, urlencode

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

API_VERSION = "2010-04-01"
PREFIX = "/twilio/2010-04-01/Accounts/"
SUFFIX = "/Messages.json"
WHATSAPP = "whatsapp:"
MAX_BODY_CHARS = 1600
MAX_MEDIA = 10
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAGIC_TO_ERRORS = {
    "+15005550001": (21211, "The 'To' number is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
UNSUBSCRIBED_NUMBER = "+15005550004"


def _error(status: int, code: int, message: str) -> FakeAnswer:
    return FakeAnswer(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )


def twilio_signature(url: str, fields: list[tuple[str, str]], auth_token: str) -> str:
    signed = url + "".join(name + value for name, value in sorted(fields))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def segments(body: str) -> int:
    """Twilio's num_segments, roughly: 160/153 for plain ASCII, 70/67 otherwise (the adapter's sms_segments is exact)."""
    if not body:
        return 1
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)


class TwilioMessages:
    name = "twilio"

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX) and path.endswith(SUFFIX)

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        account_sid = unquote(call.path[len(PREFIX) : -len(SUFFIX)])
        credentials = context.credentials
        accepted = {
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            for user, password in (
                (credentials.twilio_account_sid, credentials.twilio_auth_token),
                (credentials.twilio_api_key_sid, credentials.twilio_api_key_secret),
            )
        }
        if call.header("Authorization") not in accepted or account_sid != credentials.twilio_account_sid:
            return _error(401, 20003, "Authenticate"), []
        form = call.form()
        fields = dict(form)
        to, sender, body = fields.get("To", ""), fields.get("From", ""), fields.get("Body", "")
        media = [value for name, value in form if name == "MediaUrl"]
        if not to:
            return _error(400, 21604, "A 'To' phone number is required."), []
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required."), []
        if not body and not media:
            return _error(400, 21602, "Message body is required."), []
        if len(body) > MAX_BODY_CHARS:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit."), []
        if len(media) > MAX_MEDIA:
            return _error(400, 21623, "Number of media files exceeds allowed limit."), []
        whatsapp = to.startswith(WHATSAPP)
        if whatsapp != sender.startswith(WHATSAPP):
            return _error(400, 21910, "Invalid From and To pair. From and To should be of the same channel"), []
        number = to.removeprefix(WHATSAPP)
        if number in MAGIC_TO_ERRORS:
            return _error(400, *MAGIC_TO_ERRORS[number]), []
        if not _E164.match(number):
            return _error(400, 21211, f"The 'To' number {number} is not a valid phone number."), []
        sid = "SM" + secrets.token_hex(16)
        created = format_datetime(context.now, usegmt=True)
        resource = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": created,
            "date_sent": None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": str(len(media)),
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        callback = fields.get("StatusCallback")
        if not callback:
            return FakeAnswer(201, resource), []
        statuses = ["sent", "delivered", "read"] if whatsapp else ["sent", "delivered"]
        auth_token = context.signing.twilio_auth_token
        receipts = [
            self._callback(callback, auth_token, account_sid, sid, sender, to, status, context) for status in statuses
        ]
        return FakeAnswer(201, resource), receipts

    def _callback(
        self,
        url: str,
        auth_token: str,
        account_sid: str,
        sid: str,
        sender: str,
        to: str,
        status: str,
        context: FakeContext,
    ) -> Receipt:
        fields = [
            ("AccountSid", account_sid),
            ("ApiVersion", API_VERSION),
            ("From", sender),
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("SmsSid", sid),
            ("SmsStatus", status),
            ("To", to),
        ]
        if to.startswith(WHATSAPP):
            fields += [("ChannelPrefix", "whatsapp"), ("ChannelToAddress", to.removeprefix(WHATSAPP))]
        elif status == "delivered":
            fields.append(("RawDlrDoneDate", context.now.strftime("%y%m%d%H%M")))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "X-Twilio-Signature": twilio_signature(url, fields, auth_token),
        }
        return Receipt(provider=self.name, target=url, headers=headers, body=urlencode(fields).encode())


register(TwilioMessages())
