"""Crypto-shredding, proven on disk: a text's marker and its image never appear in
plaintext anywhere under var/ (PostgreSQL data and WAL, Kafka's logs, the media store,
the logs), before or after block; after block the conversation is gone for good."""
import asyncio
import subprocess
import uuid
from pathlib import Path

import psycopg

from tests.e2e.harness import eventually


def jpeg_with(marker: bytes) -> bytes:
    """A minimal JPEG that carries ``marker`` in a comment segment."""
    comment = b"\xff\xfe" + (len(marker) + 2).to_bytes(2, "big") + marker
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + comment + b"\xff\xd9"


def files_containing(root: Path, needle: bytes) -> list[str]:
    out = subprocess.run(["grep", "-rlaF", "--", needle.decode(), str(root)], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "/kafka/libs/" not in line]


def checkpoint(settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # WAL and data files written out, as an attacker with the disk would see


async def test_marker_never_on_disk_and_block_destroys_the_conversation(firm, settings, http):
    marker = f"MARKER-{uuid.uuid4().hex}"
    client = "+15553330001"
    await firm.text_in(client, f"my account number is {marker}", media=[(jpeg_with(marker.encode()), "image/jpeg")])
    conv = await firm.conversation_with(client)

    async def with_image():
        msgs = await firm.messages(conv["id"])
        return msgs if msgs and msgs[0]["media"] else None
    message = (await eventually(with_image))[0]
    assert marker in message["body"]
    media_id = message["media"][0]["id"]
    image = await firm.as_user("alice", "GET", f"/v1/media/{media_id}")
    assert image.status_code == 200 and marker.encode() in image.content
    reply = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                               json={"body": f"noted {marker}"}, headers={"Idempotency-Key": "k-" + marker})
    assert reply.status_code == 202
    await eventually(lambda: _delivered(firm, conv["id"]))

    root = Path(settings.var_dir)
    await asyncio.to_thread(checkpoint, settings)
    assert await asyncio.to_thread(files_containing, root, marker.encode()) == []

    blocked = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/block")
    assert blocked.status_code == 200
    for path in (f"/v1/conversations/{conv['id']}", f"/v1/conversations/{conv['id']}/messages",
                 f"/v1/media/{media_id}", f"/v1/conversations/{conv['id']}/print"):
        r = await firm.as_user("alice", "GET", path)
        assert r.status_code == 404, (path, r.status_code)
    again = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                               json={"body": f"noted {marker}"}, headers={"Idempotency-Key": "k-" + marker})
    assert again.status_code == 404  # the remembered response was sealed under the destroyed key
    compose = await firm.as_user("alice", "POST", "/v1/conversations", json={"phone": client})
    assert compose.status_code == 409 and compose.json()["error"]["code"] == "blocked"

    await firm.text_in(client, f"are you there {marker}")
    await firm.text_in("+15553330002", "someone else")  # ordered after the dropped text
    await firm.conversation_with("+15553330002")
    assert all(c["phone"] != client for c in await firm.inbox())
    notes = (await firm.as_user("alice", "GET", "/v1/notifications")).json()["notifications"]
    assert all(n["conversation_id"] != conv["id"] for n in notes)

    await asyncio.to_thread(checkpoint, settings)
    assert await asyncio.to_thread(files_containing, root, marker.encode()) == []
    assert not (Path(settings.media_root) / conv["id"]).exists()


async def _delivered(firm, conversation_id):
    return any(m["status"] == "delivered" for m in await firm.messages(conversation_id))
