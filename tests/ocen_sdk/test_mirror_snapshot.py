"""The mirror reads the registry's snapshot a record at a time: any JSON layout of the document gives the records
json.loads would, and anything else is refused whole."""

import json

import pytest

from ocen_sdk import RegistryError
from ocen_sdk.mirror import Snapshot

DOCUMENT = {
    "seq": 42,
    "at": "2026-12-04T10:00:00.000Z",
    "participants": [{"id": "p1", "participant": {"participantName": "ಬ್ಯಾಂಕ್ [1], {2}"}}, {"id": "p2"}],
    "products": [],
    "networks": [{"id": "n1", "members": [{"id": "p1", "role": "LENDER"}]}],
}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(DOCUMENT, separators=(",", ":"), ensure_ascii=False),
        json.dumps(DOCUMENT, indent=2),
        json.dumps(dict(reversed(list(DOCUMENT.items())))),  # members in another order: seq last
    ],
    ids=["compact", "indented", "seq last"],
)
def test_every_layout_gives_the_records_json_would(text):
    snapshot = Snapshot(text)
    rows = list(snapshot.rows())
    assert snapshot.seq == 42
    assert sorted((kind, pk, json.loads(body)) for kind, pk, body in rows) == [
        ("network", "n1", DOCUMENT["networks"][0]),
        ("participant", "p1", DOCUMENT["participants"][0]),
        ("participant", "p2", DOCUMENT["participants"][1]),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"seq": 1, "participants": [], "products": []}',  # a list missing
        '{"participants": [], "products": [], "networks": []}',  # no seq
        '{"seq": "1", "participants": [], "products": [], "networks": []}',
        '{"seq": 1, "participants": [{"id": 7}], "products": [], "networks": []}',
        '{"seq": 1, "participants": [{"id": "a"} {"id": "b"}], "products": [], "networks": []}',
        '{"seq": 1, "participants": [{"id": "a"}], "products": [], "networks": [',
        '{"seq": 1, 2: [], "products": [], "networks": []}',
    ],
)
def test_a_malformed_snapshot_is_refused(text):
    snapshot = Snapshot(text)
    with pytest.raises(RegistryError):
        list(snapshot.rows())
        assert snapshot.seq is not None
