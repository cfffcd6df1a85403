"""MMS intake against real PostgreSQL and the carrier simulator over real HTTP, fetched by
the real Twilio client: limits, sniffing, encryption at rest, shredding, idempotency."""
import hashlib
import secrets
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from adapters.auth import issue_token
from adapters.carrier_simulator import create_simulator
from adapters.http.app import create_app
from adapters.keystore import PostgresKeyStore
from adapters.media_intake import MAX_TOTAL_BYTES, MediaIntake
from adapters.media_store import FilesystemMediaStore
from firmtext.commands.migrate import apply_tables
from adapters.sealer import AesGcmSealer
from adapters.twilio_webhooks import InboundText, MediaRef
from domain.texting import conversation_scope
from firmtext.bootstrap import Container
from firmtext.config import Settings
from tests.local_server import serving
from tests.unit.test_media_sniff import gif, jpeg, png

FIRM_ID, FIRM, CLIENT = "firm-media", "+15550000000", "+15557654321"
MASTER = b"m" * 32


@pytest.fixture(scope="module")
async def simulator():
    """Settings pointing at the carrier simulator, served by uvicorn on a free port."""
    settings = {}

    def app(base: str):
        settings["s"] = Settings(twilio_auth_token="media-test-token", carrier_rate_per_second=1000.0,
                                 twilio_api_base=base)
        return create_simulator(settings["s"])

    async with serving(app), httpx.AsyncClient(timeout=30.0) as http:
        yield settings["s"], http


@pytest.fixture(scope="module")
def pool(database_url):
    with ConnectionPool(database_url, min_size=1, max_size=8, kwargs={"autocommit": True}) as pool:
        with pool.connection() as conn:
            apply_tables(conn)
        yield pool


@pytest.fixture
async def intake(simulator, pool, tmp_path):
    settings, _ = simulator
    store = FilesystemMediaStore(tmp_path / "media", AesGcmSealer(PostgresKeyStore(pool), MASTER))
    intake = MediaIntake(settings, store, pool)  # builds its own Twilio client, lazily
    yield intake
    await intake.aclose()


async def inbound(simulator, files, sid=None) -> InboundText:
    """An MMS whose attachments wait at the simulator, as Twilio's webhook describes it."""
    settings, http = simulator
    sid = sid or "MM" + secrets.token_hex(16)
    refs = []
    for content, declared in files:
        stored = await http.post(f"{settings.twilio_api_base}/_sim/media", params={"message_sid": sid},
                                 content=content, headers={"Content-Type": declared})
        stored.raise_for_status()
        refs.append(MediaRef(stored.json()["url"], declared))
    return InboundText(sid, CLIENT, FIRM, "photos attached", media=refs, num_media=len(refs))


def rows(pool, conversation_id) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute("SELECT media_id, firm_id, content_type, size, sha256 FROM media_objects "
                            "WHERE conversation_id = %s ORDER BY media_id", (conversation_id,)).fetchall()


def sized(maker, size: int, fill: bytes = b"x") -> bytes:
    """An image of exactly ``size`` bytes."""
    bare = maker(b"")
    return maker(fill * (size - len(bare)))


async def test_ten_images_are_accepted_encrypted_and_recorded(simulator, intake, pool):
    conv = uuid.uuid4()
    files = [((jpeg, png, gif)[i % 3](f"exhibit {i}".encode()), "image/jpeg") for i in range(10)]
    media, rejected = await intake.ingest(FIRM_ID, conv, await inbound(simulator, files))
    assert rejected == [] and len({m["id"] for m in media}) == 10
    assert [m["content_type"] for m in media] == ["image/jpeg", "image/png", "image/gif"] * 3 + ["image/jpeg"]
    for m, (content, _) in zip(media, files):
        assert (m["size"], m["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
        assert intake.media_store.get(conv, m["id"]) == content
    assert sorted((m["id"], FIRM_ID, m["content_type"], m["size"], m["sha256"]) for m in media) == rows(pool, conv)


async def test_an_eleventh_image_is_rejected_as_too_many(simulator, intake, pool):
    conv = uuid.uuid4()
    media, rejected = await intake.ingest(FIRM_ID, conv, await inbound(simulator, [(png(b"%d" % i), "image/png")
                                                                                  for i in range(11)]))
    assert len(media) == 10 and rejected == [{"index": 10, "reason": "too_many", "content_type": "image/png"}]
    assert len(rows(pool, conv)) == 10


@pytest.mark.parametrize("total, last_kept", [(MAX_TOTAL_BYTES - 1, True), (MAX_TOTAL_BYTES, False),
                                              (MAX_TOTAL_BYTES + 1, False)])
async def test_the_attachment_that_reaches_5_mb_in_all_is_rejected(simulator, intake, total, last_kept):
    big = 2 * 1024 * 1024
    files = [(sized(jpeg, big), "image/jpeg"), (sized(png, big), "image/png"), (sized(gif, total - 2 * big), "image/gif")]
    media, rejected = await intake.ingest(FIRM_ID, uuid.uuid4(), await inbound(simulator, files))
    if last_kept:  # 5 MiB - 1 byte in all: still "under 5 MB"
        assert rejected == [] and sum(m["size"] for m in media) == MAX_TOTAL_BYTES - 1
    else:
        assert rejected == [{"index": 2, "reason": "too_large", "content_type": "image/gif"}]
        assert [m["content_type"] for m in media] == ["image/jpeg", "image/png"]


async def test_a_later_attachment_that_still_fits_is_kept(simulator, intake):
    big = 2 * 1024 * 1024
    files = [(sized(jpeg, big), "image/jpeg"), (sized(png, big), "image/png"),
             (sized(gif, big), "image/gif"), (jpeg(b"small"), "image/jpeg")]
    media, rejected = await intake.ingest(FIRM_ID, uuid.uuid4(), await inbound(simulator, files))
    assert rejected == [{"index": 2, "reason": "too_large", "content_type": "image/gif"}]
    assert [m["content_type"] for m in media] == ["image/jpeg", "image/png", "image/jpeg"]


async def test_one_attachment_of_5_mb_alone_is_too_large(simulator, intake):
    files = [(sized(jpeg, MAX_TOTAL_BYTES), "image/jpeg"), (gif(), "image/gif")]
    media, rejected = await intake.ingest(FIRM_ID, uuid.uuid4(), await inbound(simulator, files))
    assert [m["content_type"] for m in media] == ["image/gif"]
    assert rejected == [{"index": 0, "reason": "too_large", "content_type": "image/jpeg"}]


async def test_declared_types_are_not_trusted(simulator, intake):
    files = [(b"MZ\x90\x00 not a photo at all", "image/jpeg"), (png(b"real"), "image/jpeg"), (gif(), "image/gif")]
    media, rejected = await intake.ingest(FIRM_ID, uuid.uuid4(), await inbound(simulator, files))
    assert rejected == [{"index": 0, "reason": "unsupported_type", "content_type": "image/jpeg"}]
    assert [m["content_type"] for m in media] == ["image/png", "image/gif"]


async def test_unfetchable_attachments_are_reported_not_raised(simulator, intake):
    text = await inbound(simulator, [(gif(), "image/gif")])
    gone = MediaRef(text.media[0].url.rsplit("/", 1)[0] + "/ME" + "0" * 32, "image/png")
    foreign = MediaRef("http://example.invalid/Media/ME1", "image/png")
    text = InboundText(text.message_sid, CLIENT, FIRM, "", media=[gone, text.media[0], foreign], num_media=3)
    media, rejected = await intake.ingest(FIRM_ID, uuid.uuid4(), text)
    assert [m["content_type"] for m in media] == ["image/gif"]
    assert [(r["index"], r["reason"]) for r in rejected] == [(0, "fetch_failed"), (2, "fetch_failed")]


async def test_disk_holds_only_ciphertext(simulator, intake):
    marker = b"PRIVILEGED-" + secrets.token_hex(8).encode()
    media, _ = await intake.ingest(FIRM_ID, uuid.uuid4(), await inbound(
        simulator, [(jpeg(marker), "image/jpeg"), (png(marker), "image/png"), (gif(marker), "image/gif")]))
    files = [p for p in intake.media_store.root.rglob("*") if p.is_file()]
    assert len(files) == 3
    for path in files:
        assert marker not in path.read_bytes() and b"JFIF" not in path.read_bytes()


async def test_delete_conversation_removes_files_and_rows(simulator, intake, pool):
    conv, keep = uuid.uuid4(), uuid.uuid4()
    await intake.ingest(FIRM_ID, keep, await inbound(simulator, [(gif(), "image/gif")]))
    media, _ = await intake.ingest(FIRM_ID, conv, await inbound(simulator, [(png(), "image/png"), (gif(), "image/gif")]))
    intake.media_store.sealer.destroy(conversation_scope(conv))  # blocking destroys the key first
    assert intake.media_store.get(conv, media[0]["id"]) is None
    assert intake.media_store.delete_conversation(pool, conv) == 2
    assert rows(pool, conv) == [] and not (intake.media_store.root / str(conv)).exists()
    assert len(rows(pool, keep)) == 1 and (intake.media_store.root / str(keep)).is_dir()
    assert intake.media_store.delete_conversation(pool, conv) == 0  # safe to repeat


async def test_a_retried_webhook_creates_no_duplicates(simulator, intake, pool):
    conv = uuid.uuid4()
    text = await inbound(simulator, [(jpeg(), "image/jpeg"), (png(), "image/png")])
    first = await intake.ingest(FIRM_ID, conv, text)
    second = await intake.ingest(FIRM_ID, conv, text)
    assert first == second and len(rows(pool, conv)) == 2
    assert all(intake.media_store.get(conv, m["id"]) is not None for m in second[0])


async def test_a_blocked_conversation_keeps_nothing(simulator, intake, pool):
    conv = uuid.uuid4()
    intake.media_store.sealer.destroy(conversation_scope(conv))
    assert await intake.ingest(FIRM_ID, conv, await inbound(simulator, [(png(), "image/png")])) == ([], [])
    assert rows(pool, conv) == [] and not (intake.media_store.root / str(conv)).exists()


async def test_media_endpoint_serves_only_the_firms_own_images(simulator, pool, database_url, tmp_path):
    settings, _ = simulator
    container = Container(Settings(database_url=database_url, media_dir=tmp_path / "served",
                                   twilio_api_base=settings.twilio_api_base,
                                   twilio_auth_token=settings.twilio_auth_token))
    conv, photo = uuid.uuid4(), png(b"exhibit A")
    [item], _ = await container.media_intake.ingest(FIRM_ID, conv, await inbound(simulator, [(photo, "image/jpeg")]))
    await container.media_intake.aclose()

    def fetch(client, firm, media_id, perms=("texting",)):
        token = issue_token(container.settings.jwt_secret, firm, "u1", list(perms))
        return client.get(f"/v1/media/{media_id}", headers={"Authorization": f"Bearer {token}"})

    with TestClient(create_app(container)) as client:
        ok = fetch(client, FIRM_ID, item["id"])
        assert ok.status_code == 200 and ok.content == photo and ok.headers["content-type"] == "image/png"
        assert ok.headers["cache-control"] == "private, no-store" and ok.headers["x-content-type-options"] == "nosniff"
        assert fetch(client, FIRM_ID, item["id"], perms=("admin",)).status_code == 403
        for firm, media_id in (("other-firm", item["id"]), (FIRM_ID, "0" * 32), (FIRM_ID, "../../etc")):
            missing = fetch(client, firm, media_id)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        container.sealer.destroy(conversation_scope(conv))
        assert fetch(client, FIRM_ID, item["id"]).status_code == 404  # key gone: unreadable at once
        assert container.media_store.delete_conversation(container.pool, conv) == 1
        assert fetch(client, FIRM_ID, item["id"]).status_code == 404


def test_sweep_finishes_shredding_left_half_done_by_a_crash(tmp_path, database_url):
    """Key destroyed, files still there (the process died between the two): the sweep removes them."""
    import uuid

    import psycopg
    from psycopg_pool import ConnectionPool

    from adapters.keystore import PostgresKeyStore
    from adapters.media_store import FilesystemMediaStore
    from adapters.media_sweep import sweep_shredded_media
    from firmtext.commands.migrate import apply_tables
    from adapters.sealer import AesGcmSealer
    from domain.texting import conversation_scope

    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_tables(conn)
    with ConnectionPool(database_url, kwargs={"autocommit": True}) as pool:
        sealer = AesGcmSealer(PostgresKeyStore(pool), b"s" * 32)
        store = FilesystemMediaStore(tmp_path, sealer)
        blocked, kept = uuid.uuid4(), uuid.uuid4()
        for conv in (blocked, kept):
            store.put(conv, uuid.uuid4().hex, b"GIF89a...")
        sealer.destroy(conversation_scope(blocked))
        assert sweep_shredded_media(store, pool) == 1
        assert not (tmp_path / str(blocked)).exists() and (tmp_path / str(kept)).exists()
        assert sweep_shredded_media(store, pool) == 0
