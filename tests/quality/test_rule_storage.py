"""Rule configs in storage: the stored JSON shape, every config loaded back as it was saved,
and, as properties, any input gives a config or field errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gql_server.rules.actions import PayBonus
from gql_server.rules.config import RuleConfig
from gql_server.rules.metrics import SPECS, Metric
from gql_server.rules.triggers import FAMILIES
from gql_server.rules.validation import load_rule, parse_rule
from gql_server.rules.vocabulary import ActionType, BanScope, Operator, RuleType
from tests.quality.rule_configs import ACTIONS, PROPERTIES, A, M, T, condition, valid


def test_the_stored_shape_of_a_rule() -> None:
    config = valid(
        rule_type=T.FAST_RESPONSES,
        recent_values=10,
        conditions=[
            condition(M.RECENT_COUNT, "GTE", 5),
            condition(M.FAST_COUNT, "GT", 2, threshold_seconds=20),
        ],
        action={"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Bot."},
    )
    assert config.conditions_json() == [
        {"metric": "RECENT_COUNT", "operator": "GTE", "value": 5},
        {"metric": "FAST_COUNT", "operator": "GT", "value": 2, "threshold_seconds": 20},
    ]
    assert config.action_json() == {
        "type": "BAN",
        "scope": "PROJECT",
        "days": 15,
        "permanent": False,
        "reason": "Bot.",
    }
    permanent = valid(action={"type": "BAN", "scope": "ACCOUNT", "permanent": True})
    assert permanent.action_json() == {
        "type": "BAN",
        "scope": "ACCOUNT",
        "days": None,
        "permanent": True,
        "reason": "",
    }


@pytest.mark.parametrize("action_type", list(ActionType))
def test_every_action_survives_storage(action_type: ActionType) -> None:
    family = next(f for f in FAMILIES if action_type in f.actions)
    config = valid(
        rule_type=family.rule_type,
        conditions=[condition(family.metrics[0])],
        action=ACTIONS[action_type],
        mode=None,
    )
    assert config.action_json()["type"] == action_type.value
    assert (
        load_rule(
            rule_type=config.type.value,
            recent_values=config.recent_values,
            conditions=config.conditions_json(),
            action=config.action_json(),
        )
        == config
    )


def test_a_corrupt_stored_rule_cannot_be_loaded() -> None:
    with pytest.raises(ValueError, match=r"^action\.days:"):
        load_rule(
            rule_type="REVIEW_RESULTS",
            recent_values=None,
            conditions=[condition(M.REVIEWED_COUNT)],
            action={"type": "BAN", "scope": "PROJECT", "days": 0},
        )


def test_a_config_with_an_action_outside_its_family_has_no_event() -> None:
    config = RuleConfig(T.EARNINGS, None, (), PayBonus(100))
    with pytest.raises(ValueError, match="PAY_BONUS"):
        _ = config.event


# Properties.


def _valid_condition(family_metrics: tuple[Metric, ...]) -> st.SearchStrategy[dict]:
    def build(metric: Metric) -> st.SearchStrategy[dict]:
        scale = SPECS[metric].scale
        high = scale.high if scale.high is not None else 10**6
        numbers = (
            st.integers(0, high)
            if scale.whole
            else st.one_of(st.integers(0, high), st.floats(0, high, allow_nan=False))
        )
        parameter = SPECS[metric].parameter
        extra = {} if parameter is None else {parameter.value: st.integers(1, 3600)}
        return st.fixed_dictionaries(
            {
                "metric": st.just(metric.value),
                # Conditions that can hold whatever the value and the window.
                "operator": st.sampled_from(["LTE", "NEQ"]),
                "value": numbers,
                **extra,
            }
        )

    return st.sampled_from(family_metrics).flatmap(build)


@st.composite
def raw_rules(draw: st.DrawFn) -> dict[str, Any]:
    family = draw(st.sampled_from(FAMILIES))
    action_type = draw(st.sampled_from(sorted(family.actions)))
    action = dict(ACTIONS[action_type])
    if action_type is A.BAN:
        action.update(draw(st.sampled_from([{"days": 3}, {"days": None, "permanent": True}])))
    return {
        "rule_type": family.rule_type.value,
        "recent_values": draw(st.none() | st.integers(1, 100)) if family.windowed else None,
        "conditions": draw(st.lists(_valid_condition(family.metrics), min_size=1, max_size=4)),
        "action": action,
    }


@PROPERTIES
@given(raw_rules())
def test_a_valid_config_survives_storage(raw: dict[str, Any]) -> None:
    config = parse_rule(**raw, acceptance_mode=None)
    assert isinstance(config, RuleConfig), config
    stored = load_rule(
        rule_type=config.type.value,
        recent_values=config.recent_values,
        conditions=config.conditions_json(),
        action=config.action_json(),
    )
    assert stored == config
    assert len(config.conditions) == len(raw["conditions"])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


NAMES = st.sampled_from(
    [*RuleType, *Metric, *Operator, *ActionType, *BanScope, "x", "skill_id", "days"]
)


@PROPERTIES
@given(
    rule_type=NAMES | JSON,
    recent_values=JSON,
    conditions=st.lists(
        st.dictionaries(
            st.sampled_from(["metric", "operator", "value", "skill_id", "threshold_seconds"]),
            NAMES | JSON,
        )
    )
    | JSON,
    action=st.dictionaries(
        st.sampled_from(["type", "days", "scope", "reason", "amount", "cap", "permanent"]),
        NAMES | JSON,
    )
    | JSON,
    mode=st.sampled_from([None, "MANUAL", "AUTOMATIC"]),
)
def test_any_input_gives_a_config_or_field_errors(
    rule_type: Any, recent_values: Any, conditions: Any, action: Any, mode: str | None
) -> None:
    result = parse_rule(
        rule_type=rule_type,
        recent_values=recent_values,
        conditions=conditions,
        action=action,
        acceptance_mode=mode,
    )
    if isinstance(result, list):
        assert result
        assert all(
            e.field[0] in ("type", "recent_values", "conditions", "action")
            and e.code == "VALIDATION"
            for e in result
        )
    else:
        assert result.conditions and result.action
