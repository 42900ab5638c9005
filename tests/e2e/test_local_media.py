"""Media over the local runner: a WhatsApp image message becomes an object in the local attachments bucket,
downloaded from the fake Graph API, with the sha256 of the bytes the provider holds; a media URL anywhere
else on 127.0.0.1 (the local AWS endpoint, the gateway) is refused, not fetched."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
import uuid

import boto3
import pytest

from tests.e2e.local_stack import LocalStack, eventually
from tests.support.drivers.kakao import encode, skill_payload
from tests.support.paths import provider_fixture

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 200 + "파손된 상자".encode()


def register_whatsapp_media(stack: LocalStack, media_id: str, content: bytes, mime_type: str) -> dict:
    url = stack.state["fake_providers"]["base_url"] + f"/__fake__/whatsapp/{media_id}"
    request = urllib.request.Request(url, data=content, method="PUT", headers={"Content-Type": mime_type})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def whatsapp_image(message_id: str, wa_id: str, media_id: str, sha256: str) -> bytes:
    """Meta's image message webhook sample with another message, sender and media."""
    webhook = json.loads(provider_fixture("whatsapp", "image.constructed.json"))
    value = webhook["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    message = value["messages"][0]
    message.update({"id": message_id, "from": wa_id, "timestamp": str(int(time.time()))})
    message["image"].update({"id": media_id, "sha256": sha256})
    return json.dumps(webhook, separators=(",", ":")).encode()


def test_whatsapp_image_lands_in_the_attachments_bucket_with_its_sha256(local_stack: LocalStack):
    # Given the (fake) Graph API holds the customer's photo
    registered = register_whatsapp_media(local_stack, "1003383421399999", PHOTO, "image/jpeg")
    assert registered["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    # When Meta delivers the image message
    body = whatsapp_image("wamid.e2e-media-photo", "821055500001", "1003383421399999", registered["sha256"])
    assert local_stack.post_whatsapp(body).status == 200
    # Then the read API shows the attachment stored, with its size, type and sha256
    ticket = local_stack.wait_for_ticket_of("821055500001")

    def stored_attachment():
        found = local_stack.as_agent(f"/tickets/{ticket['id']}").json()
        attachments = [a for m in found["messages"] for a in m["attachments"]]
        return attachments[0] if attachments and attachments[0]["fetch_status"] == "stored" else None

    attachment = eventually(stored_attachment, timeout=20, what="the photo to be stored")
    assert (attachment["sha256"], attachment["size_bytes"], attachment["mime_type"]) == (
        registered["sha256"],
        len(PHOTO),
        "image/jpeg",
    )
    # And the local attachments bucket holds exactly those bytes
    s3 = boto3.client(
        "s3",
        endpoint_url=local_stack.state["aws_endpoint_url"],
        region_name=local_stack.state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stored = s3.get_object(Bucket=local_stack.resource("AttachmentsBucket"), Key=attachment["storage_key"])
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == registered["sha256"]
    assert stored["ContentType"] == "image/jpeg"


@pytest.mark.parametrize("where", ["aws_endpoint_url", "api_url"])
def test_a_kakao_photo_on_another_local_port_is_refused_not_fetched(local_stack: LocalStack, where: str):
    # Given a skill payload whose photo URL is another server on 127.0.0.1 (the local runner allows only the
    # fake providers' exact origin)
    customer = uuid.uuid4().hex
    url = local_stack.state[where].rstrip("/") + "/"
    body = encode(skill_payload(user_id=customer, utterance=url, params={"media": {"type": "image", "url": url}}))
    token = local_stack.state["secrets"]["kakao"]["skill_token"]
    headers = {"Content-Type": "application/json;charset=UTF-8", "X-Switchboard-Token": token}
    # When Kakao delivers it
    assert local_stack.request("POST", "/webhooks/kakao", body, headers).status == 200
    # Then the attachment is recorded refused, with nothing stored

    def refused_attachment():
        ticket = next((t for t in local_stack.tickets() if t["conversation_key"].endswith(f":{customer}")), None)
        if ticket is None:
            return None
        found = local_stack.as_agent(f"/tickets/{ticket['id']}").json()
        attachments = [a for m in found["messages"] for a in m["attachments"]]
        return attachments[0] if attachments and attachments[0]["fetch_status"] else None

    attachment = eventually(refused_attachment, timeout=30, what="the media job to finish")
    assert (attachment["fetch_status"], attachment["storage_key"], attachment["url"]) == ("refused", None, url)
