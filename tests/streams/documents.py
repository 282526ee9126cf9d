"""The subscription documents of the live-stream tests, as a dashboard sends them."""

from tests.factories import FIGURES

BUDGET = (
    "subscription ($t: ID, $r: Int) { budget(taskId: $t, resumeFrom: $r) { version snapshot "
    f"taskId status balance {{ amount }} {FIGURES} changes {{ cause taskId }} }} }}"
)
QUEUE = (
    "subscription ($t: ID, $r: Int) { reviewQueue(taskId: $t, resumeFrom: $r) { version "
    "snapshot taskId length changes { kind submissionId taskId } } }"
)
TASK_EVENTS = (
    "subscription ($t: ID!) { taskEvents(taskId: $t) { version snapshot taskId status "
    "closeReason changes { kind closeReason } } }"
)
LOCK = "submissionId taskId holderId fencingToken"
LOCKS = (
    "subscription ($t: ID, $b: ID) { auditLocks(taskId: $t, batchId: $b) { version snapshot "
    f"taskId batchId heldCount locks {{ {LOCK} }} changes {{ kind lock {{ {LOCK} }} }} }} }}"
)
