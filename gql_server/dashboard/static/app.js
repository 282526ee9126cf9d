// The dashboard: the key form, the account and the chosen task, their live streams, and
// the review actions. Uses the public API only (schema.graphql).

import { ApiError, GraphQLHttp, IdempotencyKeys } from "./graphql_client.js";
import { LiveConnection, Stream } from "./live.js";
import { formatMoney } from "./money.js";
import {
  $, addEvent, element, eventText, renderChart, renderConnection, renderFigures, renderLocks,
  renderStreams, renderVariants, when,
} from "./views.js";

const KEY_STORAGE = "gqs.dashboard.apiKey";
const PAGE_SIZE = 20;
const ANALYTICS_EVERY_MS = 15000;

const FIGURES = "figures { budget { amount currency } committed { amount currency } spent { amount currency } remaining { amount currency } }";
const Q = {
  start: `{ me { __typename ... on Member { name role account { id name currency } } }
    tasks(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) {
      edges { node { id title status variantGroup } } } }`,
  members: "{ members(first: 100) { edges { node { id name } } } }",
  queue: `query ($t: ID, $n: Int) { reviewQueue(filter: {taskId: $t}, first: $n) { edges { node {
    id submittedAt worker { name country } response { name value } } } } }`,
  lock: `query ($id: ID!) { node(id: $id) { ... on Submission { worker { name }
    auditLock { acquiredAt holder { name } } } } }`,
  analytics: `query ($p: AnalyticsPeriodInput!, $s: AnalyticsScopeInput) {
    analytics(period: $p, scope: $s) { buckets { start completionRate approvalRate } } }`,
  variants: `query ($g: String!, $p: AnalyticsPeriodInput!) { variantComparison(variantGroup: $g, period: $p) {
    variants { taskId starts submitted completionRate approvalRate task { title } }
    againstControl { taskId completionRate { difference pValue } } } }`,
  approve: `mutation ($id: ID!, $k: String) { approveSubmission(input: {submissionId: $id, idempotencyKey: $k}) {
    submission { id state } userErrors { field message code } } }`,
  reject: `mutation ($id: ID!, $f: String!, $k: String) { rejectSubmission(input: {submissionId: $id, feedback: $f, idempotencyKey: $k}) {
    submission { id state } userErrors { field message code } } }`,
  bulk: `mutation ($ids: [ID!]!, $k: String) { bulkReviewSubmissions(input: {submissionIds: $ids, decision: APPROVE, idempotencyKey: $k}) {
    results { id ok userErrors { message code } } userErrors { field message code } } }`,
};
const S = {
  budget: `subscription ($t: ID, $resumeFrom: Int) { budget(taskId: $t, resumeFrom: $resumeFrom) {
    version snapshot status balance { amount currency } ${FIGURES} changes { cause } } }`,
  queue: `subscription ($t: ID, $resumeFrom: Int) { reviewQueue(taskId: $t, resumeFrom: $resumeFrom) {
    version snapshot length changes { kind submissionId } } }`,
  locks: `subscription ($t: ID, $resumeFrom: Int) { auditLocks(taskId: $t, resumeFrom: $resumeFrom) {
    version snapshot heldCount locks { submissionId holderId expiresAt } } }`,
  events: `subscription ($t: ID!, $resumeFrom: Int) { taskEvents(taskId: $t, resumeFrom: $resumeFrom) {
    version snapshot status closeReason changes { kind closeReason ruleId action workerId submissionId } } }`,
};

const state = {
  http: null,
  live: null,
  tasks: [],
  taskId: null,
  taskStreams: [],
  members: new Map(),
  locks: [],
  lockDetails: new Map(),
  selected: new Set(),
  keys: new IdempotencyKeys(),
  queueTimer: null,
  analyticsAt: 0,
  analyticsTimer: null,
};

// Notices -------------------------------------------------------------------------------

function notice(kind, text) {
  const box = $("notice");
  if (!text) {
    box.hidden = true;
    box.textContent = "";
    delete box.dataset.kind;
    return;
  }
  box.dataset.kind = kind;
  box.textContent = text;
  box.hidden = false;
}

function explain(error) {
  if (!(error instanceof ApiError)) return String(error);
  switch (error.kind) {
    case "unauthenticated":
      return "This API key is not valid (revoked, expired or mistyped). Paste another key.";
    case "forbidden":
      return `Not allowed with this key: ${error.message}`;
    case "rate_limited":
      return `Too many requests for this key: try again in ${error.retryAfterSeconds ?? "a few"} seconds.`;
    case "over_budget":
      // Refused for good: waiting does not help, a larger budget for the key does.
      return `This page's request costs ${error.cost} points, more than the ${error.maximumCost} this key may spend on one: no wait lets it through. An owner can give the key a larger budget (GQL_RATE_LIMITS).`;
    case "network":
      return "The server cannot be reached. Your action may not have been done: try it again (it is done once at most).";
    default:
      return error.message;
  }
}

// A failure of a whole request: some are the page's business (the key), the others go
// next to the control that caused them.
function failed(error, place) {
  if (error instanceof ApiError && error.kind === "unauthenticated") {
    keyRejected();
    return;
  }
  if (error instanceof ApiError && error.kind === "rate_limited") notice("rate-limited", explain(error));
  if (place) place.textContent = explain(error);
}

function keyRejected(detail) {
  notice("key-rejected", "This API key is not valid (revoked, expired or mistyped). Paste another key.");
  renderConnection({ phase: "key-rejected", detail });
  disconnect();
  $("key-section").hidden = false;
  $("api-key").focus();
}

// Connecting ----------------------------------------------------------------------------

function disconnect() {
  if (state.live) state.live.stop();
  state.live = null;
  clearInterval(state.analyticsTimer);
}

async function connect(key) {
  disconnect();
  notice(null);
  state.http = new GraphQLHttp("/graphql", key);
  let start;
  try {
    start = await state.http.request(Q.start);
  } catch (error) {
    if (error instanceof ApiError && error.kind === "unauthenticated") keyRejected();
    else notice(error.kind || "error", explain(error));
    return;
  }
  if (start.me.__typename !== "Member") {
    notice("wrong-key", "This is not a member's key: the dashboard needs the key of an account's member.");
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  $("api-key").value = "";
  $("key-section").hidden = true;
  const account = start.me.account;
  $("account-name").textContent = `${account.name} (${start.me.name}, ${start.me.role.toLowerCase()})`;
  state.tasks = start.tasks.edges.map((edge) => edge.node);
  fillTasks();
  $("dashboard").hidden = false;
  state.http.request(Q.members).then(
    (data) => data.members.edges.forEach(({ node }) => state.members.set(node.id, node.name)),
    () => {},
  );

  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  state.live = new LiveConnection(url, key, {
    onState: (phase) => {
      renderConnection(phase);
      if (phase.phase === "reconnecting") notice("reconnecting", "The connection to the server was lost: reconnecting…");
      else if (phase.phase === "key-rejected") keyRejected(phase.detail);
      else if ($("notice").dataset.kind === "reconnecting") notice(null);
      if (phase.phase === "resumed") refreshQueue();
    },
    onStreams: () => renderStreams(state.live.streams),
    checkKey: async () => {
      try {
        await state.http.request("{ me { __typename } }");
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.kind === "unauthenticated") return false;
        throw error;
      }
    },
  });
  state.live.add(
    new Stream("account budget", "budget", S.budget, { t: null }, {
      onMessage: (message) => {
        renderFigures("account", message.figures);
        $("account-balance").textContent = formatMoney(message.balance);
      },
      onError: streamError,
    }),
  );
  state.live.add(
    new Stream("account queue", "reviewQueue", S.queue, { t: null }, {
      onMessage: (message) => ($("account-queue-length").textContent = message.length),
      onError: streamError,
    }),
  );
  state.live.start();
  chooseTask(initialTask());
  state.analyticsTimer = setInterval(() => refreshAnalytics(), 60000);
}

function streamError(errors) {
  const first = errors[0] || {};
  const code = first.extensions && first.extensions.code;
  if (code === "UNAUTHENTICATED") keyRejected();
  else if (code === "RATE_LIMITED") notice("rate-limited", `Too many requests: ${first.message}`);
  else notice("stream", `A live stream stopped: ${first.message}`);
}

function fillTasks() {
  const select = $("task-select");
  select.replaceChildren(
    ...state.tasks.map((task) =>
      element("option", { value: task.id, text: `${task.title} (${task.status.toLowerCase()})` }),
    ),
  );
}

function initialTask() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("task");
  if (fromHash && state.tasks.some((task) => task.id === fromHash)) return fromHash;
  const open = state.tasks.find((task) => task.status === "OPEN");
  return (open || state.tasks[0] || {}).id || null;
}

// The chosen task ------------------------------------------------------------------------

function chooseTask(taskId) {
  for (const stream of state.taskStreams) state.live.remove(stream);
  state.taskStreams = [];
  state.taskId = taskId;
  state.selected.clear();
  state.locks = [];
  state.lockDetails.clear();
  $("events-feed").replaceChildren();
  $("queue-rows").replaceChildren();
  updateSelection();
  if (!taskId) return;
  $("task-select").value = taskId;
  history.replaceState(null, "", `#task=${encodeURIComponent(taskId)}`);
  const v = { t: taskId };
  state.taskStreams = [
    new Stream("task budget", "budget", S.budget, v, {
      onMessage: (message) => {
        renderFigures("task", message.figures);
        $("task-status").textContent = message.status;
        throttleAnalytics();
      },
      onError: streamError,
    }),
    new Stream("task queue", "reviewQueue", S.queue, v, { onMessage: queueMessage, onError: streamError }),
    new Stream("audit locks", "auditLocks", S.locks, v, { onMessage: locksMessage, onError: streamError }),
    new Stream("task events", "taskEvents", S.events, v, { onMessage: eventsMessage, onError: streamError }),
  ].map((stream) => state.live.add(stream));
  // Each stream's first message is a snapshot: the queue's list is read on it.
  renderStreams(state.live.streams);
  refreshAnalytics();
}

function queueMessage(message, meta) {
  $("queue-length").textContent = message.length;
  $("queue-empty").hidden = message.length > 0;
  if (meta.snapshot || meta.gap) {
    refreshQueue();
    return;
  }
  let added = false;
  for (const change of message.changes) {
    if (change.kind === "REMOVED") removeRow(change.submissionId);
    else added = true;
  }
  if (added || $("queue-rows").children.length < Math.min(PAGE_SIZE, message.length)) scheduleQueue();
}

function removeRow(id) {
  const row = document.querySelector(`#queue-rows tr[data-submission-id="${CSS.escape(id)}"]`);
  if (row) row.remove();
  state.selected.delete(id);
  updateSelection();
}

function scheduleQueue() {
  clearTimeout(state.queueTimer);
  state.queueTimer = setTimeout(refreshQueue, 150);
}

// The first page of the queue, read again (after a snapshot, a resume, or new work).
async function refreshQueue() {
  if (!state.taskId) return;
  const taskId = state.taskId;
  let data;
  try {
    data = await state.http.request(Q.queue, { t: taskId, n: PAGE_SIZE });
  } catch (error) {
    if (error instanceof ApiError && error.kind === "network") {
      $("queue-error").textContent = "The server cannot be reached: the list is read again once it is back.";
    } else {
      failed(error, $("queue-error"));
    }
    return;
  }
  $("queue-error").textContent = "";
  if (taskId !== state.taskId) return;
  const nodes = data.reviewQueue.edges.map((edge) => edge.node);
  const shown = new Set(nodes.map((node) => node.id));
  for (const id of [...state.selected]) if (!shown.has(id)) state.selected.delete(id);
  $("queue-rows").replaceChildren(...nodes.map(queueRow));
  $("queue-empty").hidden = nodes.length > 0;
  updateSelection();
}

function queueRow(submission) {
  const id = submission.id;
  const worker = submission.worker;
  const proof = (submission.response || []).map((value) => `${value.name}: ${value.value}`).join("; ");
  const label = `${worker.name} (${worker.country})`;
  const select = element("input", { type: "checkbox", class: "select", "aria-label": `Select the work of ${label}` });
  select.checked = state.selected.has(id);
  const feedbackId = `feedback-${id}`;
  const feedback = element("input", { type: "text", id: feedbackId, class: "feedback", placeholder: "Feedback for a rejection" });
  const error = element("span", { class: "error", role: "alert", "aria-live": "assertive" });
  const approve = element("button", { type: "button", class: "approve", text: "Approve" });
  const reject = element("button", { type: "button", class: "reject", text: "Reject" });
  const row = element(
    "tr",
    { "data-submission-id": id, "aria-selected": String(select.checked) },
    element("td", {}, select),
    element("td", { text: label }),
    element("td", { text: when(submission.submittedAt) }),
    element("td", { class: "proof", text: proof || "—" }),
    element(
      "td",
      {},
      element("div", { class: "review" },
        approve,
        element("label", { for: feedbackId, class: "visually-hidden", text: `Feedback for ${label}` }),
        feedback,
        reject,
        error),
    ),
  );
  select.addEventListener("change", () => {
    if (select.checked) state.selected.add(id);
    else state.selected.delete(id);
    row.setAttribute("aria-selected", String(select.checked));
    updateSelection();
  });
  approve.addEventListener("click", () => review(row, "approve", { id }));
  reject.addEventListener("click", () => review(row, "reject", { id, f: feedback.value }));
  feedback.addEventListener("keydown", (event) => {
    if (event.key === "Enter") reject.click();
  });
  return row;
}

function updateSelection() {
  $("selected-count").textContent = state.selected.size;
  $("bulk-approve").disabled = state.selected.size === 0;
  const boxes = document.querySelectorAll("#queue-rows .select");
  $("select-all").checked = boxes.length > 0 && state.selected.size === boxes.length;
}

// Review actions: each a mutation with an idempotency key, kept for a retry after a
// network failure; userErrors shown next to the control.
async function review(row, action, variables) {
  const error = row.querySelector(".error");
  const buttons = row.querySelectorAll("button");
  const name = action === "approve" ? "approveSubmission" : "rejectSubmission";
  const signature = `${action}:${variables.id}:${variables.f ?? ""}`;
  const k = state.keys.keyFor(signature);
  error.textContent = "";
  buttons.forEach((button) => (button.disabled = true));
  try {
    const data = await state.http.request(Q[action], { ...variables, k });
    state.keys.settled(signature);
    const payload = data[name];
    if (payload.userErrors.length) {
      error.textContent = payload.userErrors.map((item) => item.message).join(" ");
      return;
    }
    row.dataset.done = action;
    row.querySelector(".review").replaceChildren(
      element("span", { class: "done", text: action === "approve" ? "Approved" : "Rejected" }),
    );
  } catch (failure) {
    failed(failure, error);
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

async function bulkApprove() {
  const ids = [...state.selected].sort();
  if (!ids.length) return;
  const error = $("bulk-error");
  const signature = `bulk-approve:${ids.join(",")}`;
  const k = state.keys.keyFor(signature);
  error.textContent = "";
  $("bulk-approve").disabled = true;
  try {
    const data = await state.http.request(Q.bulk, { ids, k });
    state.keys.settled(signature);
    const payload = data.bulkReviewSubmissions;
    if (payload.userErrors.length) {
      error.textContent = payload.userErrors.map((item) => item.message).join(" ");
      return;
    }
    const refused = payload.results.filter((result) => !result.ok);
    for (const result of payload.results) {
      const row = document.querySelector(`#queue-rows tr[data-submission-id="${CSS.escape(result.id)}"]`);
      if (!row) continue;
      if (result.ok) state.selected.delete(result.id);
      else row.querySelector(".error").textContent = result.userErrors.map((item) => item.message).join(" ");
    }
    error.textContent = refused.length ? `${refused.length} of ${ids.length} were not approved (see their rows).` : "";
  } catch (failure) {
    failed(failure, error);
  } finally {
    updateSelection();
  }
}

// Locks, events, analytics ------------------------------------------------------------------

async function locksMessage(message) {
  $("locks-count").textContent = message.heldCount;
  // The locks held now; a later message may replace them while this one's details load.
  state.locks = message.locks;
  const missing = message.locks.filter((lock) => !state.lockDetails.has(lock.submissionId));
  renderLocks(state.locks, state.members, state.lockDetails);
  if (!missing.length) return;
  await Promise.all(
    missing.slice(0, 20).map(async (lock) => {
      try {
        const data = await state.http.request(Q.lock, { id: lock.submissionId });
        const node = data.node || {};
        state.lockDetails.set(lock.submissionId, {
          worker: node.worker && node.worker.name,
          acquiredAt: node.auditLock && node.auditLock.acquiredAt,
          holder: node.auditLock && node.auditLock.holder && node.auditLock.holder.name,
        });
      } catch (error) {
        state.lockDetails.set(lock.submissionId, {});
      }
    }),
  );
  renderLocks(state.locks, state.members, state.lockDetails);
}

function eventsMessage(message, meta) {
  $("task-status").textContent = message.status;
  if (meta.snapshot) {
    const reason = message.closeReason ? ` (${message.closeReason.toLowerCase().replaceAll("_", " ")})` : "";
    addEvent(`Status: ${message.status.toLowerCase()}${reason}, at version ${message.version}`, "STATUS");
  }
  for (const change of message.changes) addEvent(eventText(change), change.kind);
  const task = state.tasks.find((item) => item.id === state.taskId);
  if (task && task.status !== message.status) {
    task.status = message.status;
    fillTasks();
    $("task-select").value = state.taskId;
  }
}

function period() {
  const to = new Date();
  to.setUTCHours(24, 0, 0, 0);
  const from = new Date(to.getTime() - 14 * 86400000);
  return { from: from.toISOString(), to: to.toISOString(), bucket: "DAY" };
}

function throttleAnalytics() {
  const wait = state.analyticsAt + ANALYTICS_EVERY_MS - Date.now();
  if (wait <= 0) refreshAnalytics();
  else if (!state.analyticsPending) {
    state.analyticsPending = setTimeout(() => {
      state.analyticsPending = null;
      refreshAnalytics();
    }, wait);
  }
}

async function refreshAnalytics() {
  if (!state.taskId || !state.http) return;
  state.analyticsAt = Date.now();
  const task = state.tasks.find((item) => item.id === state.taskId);
  const p = period();
  try {
    const data = await state.http.request(Q.analytics, { p, s: { taskId: state.taskId } });
    renderChart(data.analytics.buckets);
    if (task && task.variantGroup) {
      const comparison = await state.http.request(Q.variants, { g: task.variantGroup, p });
      renderVariants(task.variantGroup, comparison.variantComparison);
    } else {
      renderVariants(null, null);
    }
  } catch (error) {
    failed(error, $("chart-summary"));
  }
}

// Start -------------------------------------------------------------------------------------

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) connect(key);
});
$("forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  disconnect();
  $("dashboard").hidden = true;
  $("key-section").hidden = false;
  renderConnection({ phase: "idle" });
  notice(null);
});
$("task-select").addEventListener("change", (event) => chooseTask(event.target.value));
$("bulk-approve").addEventListener("click", bulkApprove);
$("select-all").addEventListener("change", (event) => {
  for (const box of document.querySelectorAll("#queue-rows .select")) {
    if (box.checked !== event.target.checked) box.click();
  }
});

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) connect(saved);
