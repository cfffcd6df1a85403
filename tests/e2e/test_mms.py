"""Inbound MMS through the real webhook, carrier media fetch and media store: the
limits hold per attachment and the message's text is never lost."""
from tests.e2e.harness import eventually

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


async def _received(firm, client, body):
    conv = await firm.conversation_with(client)

    async def found():
        return next((m for m in await firm.messages(conv["id"]) if m["body"] == body), None)
    return await eventually(found)


async def test_eleven_images_keep_ten_and_the_text(firm):
    images = [(PNG, "image/png")] * 11
    await firm.text_in("+15556660001", "photos of the damage", media=images)
    message = await _received(firm, "+15556660001", "photos of the damage")
    assert len(message["media"]) == 10
    assert [(r["index"], r["reason"]) for r in message["rejected_media"]] == [(10, "too_many")]
    image = await firm.as_user("alice", "GET", f"/v1/media/{message['media'][0]['id']}")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"


async def test_a_disguised_file_is_refused_but_the_text_is_kept(firm):
    await firm.text_in("+15556660002", "my license", media=[(b"MZ\x90\x00 not an image", "image/jpeg")])
    message = await _received(firm, "+15556660002", "my license")
    assert message["media"] == []
    assert message["rejected_media"][0]["reason"] == "unsupported_type"
