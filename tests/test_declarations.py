"""Each declaration once: the domain declares the task configuration and the audit filter,
the API's inputs mirror them field by field, and the CSV export reads the same filter."""

from __future__ import annotations

from gql_server.rules.statistics import Interval
from gql_server.services import audits


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
