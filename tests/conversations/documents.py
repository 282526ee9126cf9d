"""The GraphQL documents the conversation tests send, as a dashboard and a worker app would."""

THREAD_FIELDS = (
    "id state askedAt dueAt overdue lastMessageAt closedAt taskId submissionId "
    "messages { author kind body createdAt }"
)
ASK = (
    "mutation ($input: AskQuestionInput!) { askQuestion(input: $input) { thread { "
    + THREAD_FIELDS
    + " } userErrors { field code message } } }"
)
WORKER_REPLY = (
    "mutation ($t: ID!, $b: String!) { replyToTeam(input: {threadId: $t, body: $b}) "
    "{ thread { " + THREAD_FIELDS + " } userErrors { field code message } } }"
)
TEAM_REPLY = (
    "mutation ($t: ID!, $b: String!) { replyToThread(input: {threadId: $t, body: $b}) "
    "{ thread { " + THREAD_FIELDS + " firstResponseSeconds worker { id } "
    "messages { author member { id } } } userErrors { field code message } } }"
)
CLOSE = (
    "mutation ($t: ID!) { closeThread(input: {threadId: $t}) "
    "{ thread { state closedAt } userErrors { field code message } } }"
)
THREADS = (
    "query ($f: ThreadFilter) { threads(filter: $f, first: 50) { totalCount "
    "edges { node { id state overdue worker { id } task { id } } } } }"
)
SUMMARY = (
    "query ($t: ID, $from: DateTime, $to: DateTime) { threadSummary(taskId: $t, from: $from, "
    "to: $to) { openCount overdueCount answeredCount questions medianFirstResponseSeconds "
    "answeredWithinTarget questionsPerTask { taskId questions } } }"
)
MY_THREADS = (
    "{ myThreads(first: 50) { edges { node { id state messages { author kind body } } } } }"
)
ANNOUNCE = (
    "mutation ($t: ID!, $b: String!) { sendAnnouncement(input: {taskId: $t, body: $b}) "
    "{ announcement { taskId body day recipientCount recipientIds } "
    "userErrors { field code message } } }"
)
MY_ANNOUNCEMENTS = "{ myAnnouncements(first: 50) { edges { node { taskId body } } } }"
PUBLISH_FAQ = (
    "mutation ($input: PublishFaqEntryInput!) { publishFaqEntry(input: $input) "
    "{ entry { id question answer } userErrors { field code message } } }"
)
INSTRUCTIONS = (
    "query ($t: ID!) { taskInstructions(taskId: $t) { taskId instructions agreedRevision "
    "faq { question answer } revisions { number instructions createdAt author { id } } } }"
)
RESTRICT = (
    "mutation ($input: RestrictWorkerInput!) { restrictWorker(input: $input) "
    "{ created restriction { id kind scope } userErrors { field code message } } }"
)
MESSAGE_WORKER = (
    "mutation ($input: MessageWorkerInput!) { messageWorker(input: $input) "
    "{ thread { id state messages { author kind body } } userErrors { field code message } } }"
)
THREAD_ACTIVITY = (
    "subscription ($t: ID, $from: Int) { threadActivity(taskId: $t, resumeFrom: $from) "
    "{ version snapshot taskId openCount overdueCount "
    "changes { kind threadId taskId workerId } } }"
)
