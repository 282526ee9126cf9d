"""Each declaration once: the domain declares the task configuration and the audit filter,
the API's inputs mirror them field by field, and the CSV export reads the same filter."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
import strawberry

from gql_server.export import audit_filter
from gql_server.models.enums import AcceptanceMode, ProofKind
from gql_server.rules.statistics import Interval
from gql_server.schema import audits as audit_schema
from gql_server.schema import inputs
from gql_server.schema.enums import SkillOperator
from gql_server.services import audits, tasks
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.global_ids import global_id


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize(
    ("given", "domain", "extra"),
    [
        (inputs.CreateTaskInput, tasks.TaskDraft, {"project_id"}),
        (inputs.TaskChangesInput, tasks.TaskDraft, set()),
        (inputs.TargetingInput, tasks.TargetingDraft, set()),
        (inputs.SkillFilterInput, tasks.SkillFilterDraft, set()),
        (inputs.ProofRequirementInput, tasks.ProofRequirementDraft, set()),
        (inputs.TaskFilter, tasks.TaskFilter, set()),
        (audit_schema.AuditFilter, audits.AuditFilter, set()),
    ],
)
def test_inputs_carry_the_domain_fields_under_the_same_names(
    given: type, domain: type, extra: set[str]
) -> None:
    assert _names(given) - extra == _names(domain)


def test_the_audit_status_filter_is_the_domain_enum() -> None:
    assert audit_schema.AuditStatusFilter is audits.AuditStatusFilter


def test_a_create_input_becomes_the_draft() -> None:
    given = inputs.CreateTaskInput(
        project_id=strawberry.ID(global_id("Project", 1)),
        title="T",
        instructions="I",
        reward="1.00",
        budget="2.00",
        proof_requirements=[inputs.ProofRequirementInput(name="p", kind=ProofKind.TEXT)],
        targeting=inputs.TargetingInput(
            countries_allowed=["DE"],
            skill_filters=[
                inputs.SkillFilterInput(
                    skill_id=strawberry.ID(global_id("Skill", 7)),
                    operator=SkillOperator.GTE,
                    value=50,
                ),
                inputs.SkillFilterInput(skill_id=strawberry.ID("bad"), operator=SkillOperator.LT),
            ],
            invited_worker_ids=[strawberry.ID(global_id("Worker", 9)), strawberry.ID("bad")],
        ),
        batch_id=strawberry.ID(global_id("Batch", 3)),
    )
    assert given.to_draft() == tasks.TaskDraft(
        title="T",
        instructions="I",
        reward="1.00",
        budget="2.00",
        time_limit_seconds=3600,
        proof_requirements=[tasks.ProofRequirementDraft("p", ProofKind.TEXT)],
        targeting=tasks.TargetingDraft(
            countries_allowed=["DE"],
            skill_filters=[
                tasks.SkillFilterDraft(7, "GTE", 50),
                tasks.SkillFilterDraft(None, "LT", None),
            ],
            invited_worker_ids=[9, None],
        ),
        batch_id=3,
    )
    with pytest.raises(UseCaseError) as raised:
        dataclasses.replace(given, batch_id=strawberry.ID("bad")).to_draft()
    assert [(e.code, e.field) for e in raised.value.errors] == [
        (ErrorCode.NOT_FOUND, ("batch_id",))
    ]


def test_changes_are_the_fields_given_and_null_keeps_what_cannot_be_empty() -> None:
    assert inputs.TaskChangesInput().to_changes() == {}
    changes = inputs.TaskChangesInput(
        title=None,
        reward="2.00",
        category=None,
        acceptance_mode=AcceptanceMode.AUTOMATIC,
        proof_requirements=None,
        targeting=None,
        batch_id=None,
    ).to_changes()
    assert changes == {
        "reward": "2.00",
        "category": None,
        "acceptance_mode": AcceptanceMode.AUTOMATIC,
        "proof_requirements": [],
        "targeting": tasks.TargetingDraft(),
        "batch_id": None,
    }
    assert inputs.TaskChangesInput(batch_id=strawberry.ID(global_id("Batch", 4))).to_changes() == {
        "batch_id": 4
    }


def test_the_graphql_audit_filter_becomes_the_domain_filter() -> None:
    given = audit_schema.AuditFilter(
        task_id=strawberry.ID(global_id("Task", 1)),
        auditor_id=strawberry.ID(global_id("Member", 2)),
        week_of=date(2026, 3, 2),
        audit_status=audits.AuditStatusFilter.FIXED,
    )
    assert given.to_domain() == audits.AuditFilter(
        task_id=1,
        auditor_id=2,
        week_of=date(2026, 3, 2),
        audit_status=audits.AuditStatusFilter.FIXED,
    )
    with pytest.raises(UseCaseError) as raised:
        audit_schema.AuditFilter(batch_id=strawberry.ID(global_id("Task", 1))).to_domain()
    [error] = raised.value.errors
    assert (error.code, error.field, error.message) == (
        ErrorCode.VALIDATION,
        ("filter", "batch_id"),
        "'batchId' is not a Batch id.",
    )


def test_the_csv_export_reads_the_domain_filter_from_query_parameters() -> None:
    assert audit_filter({}) == audits.AuditFilter()
    assert audit_filter(
        {
            "taskId": global_id("Task", 1),
            "batchId": global_id("Batch", 2),
            "auditorId": global_id("Member", 3),
            "completedFrom": "2026-03-02T00:00:00+00:00",
            "completedTo": "2026-03-09T00:00:00Z",
            "weekOf": "2026-03-04",
            "auditStatus": "NEVER_AUDITED",
            "unrelated": "ignored",
        }
    ) == audits.AuditFilter(
        task_id=1,
        batch_id=2,
        auditor_id=3,
        completed_from=datetime(2026, 3, 2, tzinfo=UTC),
        completed_to=datetime(2026, 3, 9, tzinfo=UTC),
        week_of=date(2026, 3, 4),
        audit_status=audits.AuditStatusFilter.NEVER_AUDITED,
    )
    with pytest.raises(UseCaseError) as raised:
        audit_filter(
            {
                "taskId": global_id("Batch", 1),
                "completedFrom": "yesterday",
                "completedTo": "2026-03-09T00:00:00",
                "auditStatus": "SOMETIMES",
            }
        )
    assert [e.message for e in raised.value.errors] == [
        "'taskId' is not a Task id.",
        "'completedFrom' is not valid: 'yesterday'.",
        "'completedTo' needs a UTC offset.",
        "'auditStatus' is not valid: 'SOMETIMES'.",
    ]


def test_the_defect_rate_is_defined_once_with_its_rounding() -> None:
    def summary(defective: int, audited: int, completed: int) -> audits.AuditSummary:
        return audits.AuditSummary(completed, audited, defective, audits.OutcomeCounts())

    assert summary(1, 3, 4).defect_rate == 33.33
    assert summary(2, 3, 3).defect_rate == 66.67
    assert summary(0, 0, 4).defect_rate is None
    assert summary(0, 0, 4).defect_rate_interval is None
    assert summary(1, 3, 3).defect_rate_interval == Interval(33.33, 33.33)
    exact = summary(1, 3, 10).defect_interval
    assert exact is not None
    assert summary(1, 3, 10).defect_rate_interval == Interval(
        round(exact.low * 100, 2), round(exact.high * 100, 2)
    )
