"""What follows domain events, and in which order: declared here, once.

1. The stream log gathers the live-stream changes of each event as it is raised (so a
   message lists changes in the order they happened, causes before their consequences),
   stores one message per stream just before commit, and publishes after commit.
2. The callback outbox writes the event's callbacks, describing the submission as the
   event left it, before any rule acts on it.
3. The quality-control and automation rules act on the event (their actions raise events
   of their own, handled in turn, depth first).
4. Automatic acceptance approves what arrives at an AUTOMATIC task, once the rules had
   their say (automation may decline spam first).
5. Automatic closure closes a task whose closure condition now holds, once the event the
   use case raised and all that followed it were handled (it passes over the events the
   handlers raise), so a top-up the rules make can keep the task open and every bonus they
   pay comes from its remaining budget.

`install` runs when the database is opened (`gql_server.db.open_database`), so every
entry point (server, worker, commands, tests) has them; a unit of work without them
refuses to start.
"""

from __future__ import annotations

from gql_server.services.events import Handler, install_handlers
from gql_server.services.outbox import CallbackOutbox
from gql_server.services.review import AutomaticAcceptance
from gql_server.services.rule_engine import QualityRules
from gql_server.services.streams import StreamLog
from gql_server.services.task_lifecycle import AutomaticClosure

HANDLERS: tuple[Handler, ...] = (
    StreamLog(),
    CallbackOutbox(),
    QualityRules(),
    AutomaticAcceptance(),
    AutomaticClosure(),
)


def install() -> None:
    install_handlers(HANDLERS)
