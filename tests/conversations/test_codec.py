"""Drafts: a dataclass goes to user_data as JSON values and comes back; another shape does not."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from conversations import codec


@dataclass
class Where:
    latitude: float
    longitude: float
    label: str | None = None


@dataclass
class Draft:
    name: str = ""
    count: int = 1
    ready: bool = False
    place: Where | None = None
    ids: list[int] = field(default_factory=list)
    slots: list[tuple[int, str]] = field(default_factory=list)
    window: tuple[int, int] | None = None


def test_a_draft_round_trips_through_json() -> None:
    draft = Draft(
        "Ana", 2, True, Where(45.5, 5.9, "Rue de Boigne"), [3, 1], [(5, "evening")], (1, 2)
    )
    stored = json.loads(json.dumps(codec.dump(draft)))
    assert stored["slots"] == [[5, "evening"]]
    assert codec.load(Draft, stored) == draft
    assert codec.load(Draft, codec.dump(Draft())) == Draft()


def test_a_whole_number_is_a_float_where_a_float_is_declared() -> None:
    stored = codec.dump(Draft(place=Where(45, 6)))
    loaded = codec.load(Draft, json.loads(json.dumps(stored)))
    assert loaded is not None
    assert loaded.place is not None
    assert isinstance(loaded.place.latitude, float)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {},  # an empty draft of an older version
        {"b_name": "Ana", "_state": "bphone"},  # the keys of an older version
        {**codec.dump(Draft()), "_state": "name"},  # one key too many
        {key: value for key, value in codec.dump(Draft()).items() if key != "ids"},  # one missing
        {**codec.dump(Draft()), "count": "1"},
        {**codec.dump(Draft()), "count": True},  # a bool is no number
        {**codec.dump(Draft()), "ready": 1},
        {**codec.dump(Draft()), "place": {"latitude": 45.5}},
        {**codec.dump(Draft()), "slots": [[5, "evening", "extra"]]},
        {**codec.dump(Draft()), "window": [1]},
        {**codec.dump(Draft()), "ids": ["1"]},
    ],
)
def test_a_draft_of_another_shape_loads_as_none(stored: object) -> None:
    assert codec.load(Draft, stored) is None
