"""The predict form from a signature, the typed record from the form, the label as the model's class."""

from __future__ import annotations

import pytest

from evergreen.dashboard.services import InputField
from evergreen.dashboard.views.predict import form_inputs, label_from_form, record_from_form
from evergreen.errors import BadInputError

FIELDS = (
    InputField("tenure", "double"),
    InputField("calls", "long"),
    InputField("plan", "string"),
    InputField("vip", "boolean"),
    InputField("seen", "datetime"),
)


def test_inputs_typed_by_column() -> None:
    assert [(i.name, i.html_type, i.step, i.options) for i in form_inputs(FIELDS)] == [
        ("tenure", "number", "any", ()),
        ("calls", "number", "1", ()),
        ("plan", "text", None, ()),
        ("vip", "select", None, ("", "true", "false")),
        ("seen", "datetime-local", None, ()),
    ]


def test_record_typed_and_empty_is_null() -> None:
    form = {"f:tenure": "12.5", "f:calls": "3", "f:plan": " basic ", "f:vip": "false", "f:seen": ""}
    assert record_from_form(FIELDS, form) == {
        "tenure": 12.5,
        "calls": 3,
        "plan": "basic",
        "vip": False,
        "seen": None,
    }
    with pytest.raises(BadInputError, match=r"calls: '2\.5' is not a whole number"):
        record_from_form(FIELDS, {"f:calls": "2.5"})
    with pytest.raises(BadInputError, match="tenure: 'ten' is not a number"):
        record_from_form(FIELDS, {"f:tenure": "ten"})
    with pytest.raises(BadInputError, match="tenure: must be a finite number"):
        record_from_form(FIELDS, {"f:tenure": "1e999"})
    # A posted value the select never offers is refused, not read as false.
    with pytest.raises(BadInputError, match="vip: 'yes' is not true or false"):
        record_from_form(FIELDS, {"f:vip": "yes"})


def test_label_is_the_class_value_or_a_number() -> None:
    assert label_from_form("1", (0, 1)) == 1 and label_from_form("yes", ("no", "yes")) == "yes"
    assert label_from_form("2.5", None) == 2.5
    with pytest.raises(BadInputError, match="not a class of the model"):
        label_from_form("maybe", ("no", "yes"))
    with pytest.raises(BadInputError, match="give the true outcome"):
        label_from_form(" ", ("no", "yes"))


# What a person may type in a number box; the JSON API (``parse_json``) takes exactly the JSON numbers.
TYPED = (
    "12",
    "-0.5e3",
    "0",
    "3.0",
    "1E2",
    "\uff11\uff12",
    "1_000",
    "+5",
    ".5",
    "5.",
    "0x10",
    "01",
    "1 2",
    "\u0663",
    "NaN",
    "Infinity",
    "inf",
    "true",
    "null",
    "[1]",
    '"12"',
    "1" * 5000,
)


@pytest.mark.parametrize("text", TYPED)
def test_a_number_box_takes_exactly_what_the_json_api_takes_naming_the_field(text: str) -> None:
    from evergreen.errors import MalformedJSONError
    from evergreen.serving.payload import parse_json

    try:
        api = parse_json(text.encode())
    except MalformedJSONError:
        api = None
    if isinstance(api, bool) or not isinstance(api, int | float):
        with pytest.raises(BadInputError, match=r"^tenure: .* is not a number") as refused:
            record_from_form(FIELDS, {"f:tenure": text})
        assert refused.value.details == {"field": "tenure"}
        with pytest.raises(BadInputError, match=r"^label: .* is not a number"):
            label_from_form(text, None)
    else:
        assert record_from_form(FIELDS, {"f:tenure": text})["tenure"] == api
        assert label_from_form(text, None) == api
