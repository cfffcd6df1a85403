"""Seed FAQ 5 (reply STOP) and safe retries with Idempotency-Key."""
import asyncio
import uuid

from tests.e2e.harness import random_number
from tests.e2e.seed_steps import (
    bodies, carrier_bodies, compose, conversation, delivered, ok, refused, send)


class TestStop:
    async def test_a_client_replying_stop_cannot_be_texted_until_start(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        await delivered(staff, conv_id, (await send(staff, conv_id, "Hearing moved to Tuesday."))["id"])
        await staff.text_in(phone, "Please stop texting at night")  # not a keyword
        assert (await conversation(staff, conv_id))["opted_out"] is False
        await staff.text_in(phone, "STOP")
        assert (await conversation(staff, conv_id))["opted_out"] is True
        assert (await conversation(staff, conv_id, "bob"))["opted_out"] is True
        for user in ("alice", "bob"):
            r = await staff.as_user(user, "POST", f"/v1/conversations/{conv_id}/messages",
                                    json={"body": "still there?"})
            refused(r, 409, "opted_out")
        await staff.text_in(phone, " start ")
        assert (await conversation(staff, conv_id))["opted_out"] is False
        back = await send(staff, conv_id, "Welcome back.")
        await delivered(staff, conv_id, back["id"])
        assert await bodies(staff, conv_id) == ["Hearing moved to Tuesday.", "Please stop texting at night",
                                                "STOP", " start ", "Welcome back."]
        assert await carrier_bodies(staff, http, settings, phone) == ["Hearing moved to Tuesday.", "Welcome back."]


# -- Idempotency-Key (API contract) ------------------------------------------------------------

class TestIdempotencyKey:
    async def test_the_same_key_and_body_send_one_message_and_replay_the_response(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        path, key = f"/v1/conversations/{conv_id}/messages", {"Idempotency-Key": uuid.uuid4().hex}
        first = await staff.as_user("alice", "POST", path, json={"body": "only once"}, headers=key)
        second = await staff.as_user("alice", "POST", path, json={"body": "only once"}, headers=key)
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        other = await staff.as_user("alice", "POST", path, json={"body": "something else"}, headers=key)
        refused(other, 422, "idempotency_key_reused")
        marker = await send(staff, conv_id, "marker")
        await delivered(staff, conv_id, marker["id"])
        await delivered(staff, conv_id, first.json()["message"]["id"])
        assert await bodies(staff, conv_id) == ["only once", "marker"]
        assert await carrier_bodies(staff, http, settings, phone) == ["only once", "marker"]

    async def test_concurrent_retries_with_one_key_never_send_twice(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        path, key = f"/v1/conversations/{conv_id}/messages", {"Idempotency-Key": uuid.uuid4().hex}
        answers = await asyncio.gather(*(staff.as_user("alice", "POST", path, json={"body": "just once"},
                                                       headers=key) for _ in range(6)))
        accepted = [r for r in answers if r.status_code == 202]
        assert accepted and all(r.status_code in (202, 409) for r in answers), [r.text for r in answers]
        assert len({r.json()["message"]["id"] for r in accepted}) == 1
        for r in answers:
            if r.status_code == 409:
                refused(r, 409, "request_in_progress")
        await delivered(staff, conv_id, accepted[0].json()["message"]["id"])
        assert await bodies(staff, conv_id) == ["just once"]
        assert await carrier_bodies(staff, http, settings, phone) == ["just once"]

    async def test_compose_with_a_key_replays_the_original_answer(self, staff):
        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"phone": random_number()}
        first = await staff.as_user("alice", "POST", "/v1/conversations", json=body, headers=key)
        second = await staff.as_user("alice", "POST", "/v1/conversations", json=body, headers=key)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
