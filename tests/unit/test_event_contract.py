"""The Kafka contract is declared (domain/event_contract.py), not derived from Python names."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from domain.event_contract import CONTRACTS, UndeclaredField, contract_of
from tests.unit.test_events_documented import domain_event_classes

ROOT = Path(__file__).resolve().parents[2]
SHAPES = Path(__file__).with_name("event_wire_shapes.json")


def test_every_domain_event_class_has_a_contract_declaring_exactly_its_fields():
    for cls in domain_event_classes():
        contract = contract_of(cls.__new__(cls))
        own = set(cls.__dataclass_fields__) - {"originator_id", "originator_version", "timestamp",
                                                "originator_topic"}
        assert set(contract.fields.values()) == own, f"{cls.__qualname__}: declare {sorted(own)}"
    assert len(CONTRACTS) == len(domain_event_classes())


def test_a_wire_shape_changes_only_with_a_new_schema_version():
    committed = json.loads(SHAPES.read_text())
    for contract in CONTRACTS.values():
        shape = {"version": contract.version, "fields": sorted(contract.fields)}
        before = committed.get(contract.wire_type)
        assert before is not None, f"new type {contract.wire_type}: add {shape} to {SHAPES.name}"
        if before["version"] == shape["version"]:
            assert before["fields"] == shape["fields"], (
                f"{contract.wire_type} changed its fields without a new version: bump its version in "
                f"domain/event_contract.py, document it, then record the shape in {SHAPES.name}")
        else:
            assert shape["version"] > before["version"], f"{contract.wire_type}: versions only go up"
            pytest.fail(f"{contract.wire_type} is now version {shape['version']}: record {shape} in {SHAPES.name}")
    assert set(committed) == {c.wire_type for c in CONTRACTS.values()}, "published types are never removed"


def test_an_undeclared_field_never_reaches_the_log():
    contract = next(iter(CONTRACTS.values()))
    with pytest.raises(UndeclaredField):
        contract.wire_data({"surprise": 1})


ENVELOPE_OF_A_MUTE = """
import sys
from datetime import datetime, timezone
from uuid import UUID
from domain.conversation import Conversation
from domain.envelope import build_envelope, encode
event_class, field = sys.argv[1], sys.argv[2]
event = getattr(Conversation, event_class)(originator_id=UUID(int=7), originator_version=3,
    timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), **{field: "paralegal-1"})
sys.stdout.write(encode(build_envelope(domain_event=event, notification_id=42, firm_id="firm-x",
                                       prev_hash="a" * 64)).decode())
"""


def _envelope(package_root: Path, event_class: str, field: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", ENVELOPE_OF_A_MUTE, event_class, field], env=env,
                          capture_output=True, text=True, timeout=60, cwd=package_root)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_renaming_an_event_class_and_its_parameter_leaves_the_wire_format_unchanged(tmp_path):
    # The scratch branch: Conversation.Muted becomes Silenced, user_id becomes staff_user_id,
    # and the contract maps the new names under the published ones.
    shutil.copytree(ROOT / "domain", tmp_path / "domain")
    conversation = tmp_path / "domain" / "conversation.py"
    source = conversation.read_text()
    renamed = source.replace('@event("Muted")\n    def _muted(self, user_id: str) -> None:\n        '
                             'self.muted.add(user_id)',
                             '@event("Silenced")\n    def _muted(self, staff_user_id: str) -> None:\n        '
                             'self.muted.add(staff_user_id)').replace('self._muted(user_id=user_id)',
                                                                      'self._muted(staff_user_id=user_id)')
    assert renamed != source, "the scratch rename did not apply: update this test's pattern"
    conversation.write_text(renamed)
    contract = tmp_path / "domain" / "event_contract.py"
    declared = contract.read_text()
    remapped = declared.replace('Conversation.Muted: ("Conversation.Muted", 1, _same("user_id")),',
                                'Conversation.Silenced: ("Conversation.Muted", 1, {"user_id": "staff_user_id"}),')
    assert remapped != declared
    contract.write_text(remapped)
    assert _envelope(tmp_path, "Silenced", "staff_user_id") == _envelope(ROOT, "Muted", "user_id")


def test_an_event_stored_before_a_new_version_keeps_its_published_bytes():
    from datetime import datetime, timezone
    from uuid import UUID

    from domain.conversation import Conversation
    from domain.envelope import build_envelope

    event = Conversation.OutboundRequested(originator_id=UUID(int=9), originator_version=2,
                                           timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), message_id="m1",
                                           user_id="alice", body_ct="v1.x", participating=True)
    new = build_envelope(domain_event=event, notification_id=5, firm_id="f", prev_hash="0" * 64)
    del event.__dict__["participating"]  # as reconstructed from a store written by version 1
    old = build_envelope(domain_event=event, notification_id=5, firm_id="f", prev_hash="0" * 64)
    assert (new["schema_version"], new["data"]["participating"]) == (2, True)
    assert old["schema_version"] == 1 and "participating" not in old["data"]
