// Rendering: figures and bars, the queue's rows, locks, the events feed, the streams'
// versions, the chart. Text only through textContent: nothing the API returns is HTML.

import { formatMoney, shareOf } from "./money.js";

export const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
export { element };

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

export function renderFigures(prefix, figures) {
  for (const name of ["budget", "committed", "spent", "remaining"]) {
    $(`${prefix}-${name}`).textContent = formatMoney(figures[name]);
  }
  const bar = $(`${prefix}-bar`);
  const spent = shareOf(figures.spent, figures.budget);
  const committed = shareOf(figures.committed, figures.budget);
  bar.querySelector(".spent").style.width = `${spent}%`;
  bar.querySelector(".committed").style.width = `${committed}%`;
  bar.querySelector(".remaining").style.width = `${Math.max(0, 100 - spent - committed)}%`;
  bar.setAttribute(
    "aria-label",
    `Of ${formatMoney(figures.budget)}: ${spent}% spent, ${committed}% committed`,
  );
}

const PHASES = {
  idle: "Not connected",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  resumed: "Live, resumed",
  resynchronised: "Live, resynchronised",
  "key-rejected": "Key refused",
};

export function renderConnection(state) {
  const box = $("connection");
  box.dataset.phase = state.phase;
  let text = PHASES[state.phase] || state.phase;
  if (state.phase === "reconnecting" && state.attempt) text += ` (attempt ${state.attempt})`;
  if (state.phase === "resumed" && state.detail) text += ` from ${state.detail}`;
  if (state.phase === "resynchronised" && state.detail) text += ` at ${state.detail}`;
  $("connection-text").textContent = text;
}

export function renderStreams(streams) {
  const rows = $("stream-rows");
  rows.replaceChildren(
    ...[...streams].map((stream) =>
      element(
        "tr",
        { "data-stream": stream.name, "data-version": stream.lastVersion ?? "" },
        element("th", { scope: "row", text: stream.name }),
        element("td", { class: "version", text: stream.lastVersion ?? "—" }),
        element("td", { text: stream.messages }),
        element("td", { class: "missed", text: stream.missed }),
      ),
    ),
  );
}

export function renderLocks(locks, members, details) {
  $("locks-rows").replaceChildren(
    ...locks.map((lock) => {
      const detail = details.get(lock.submissionId) || {};
      return element(
        "tr",
        { "data-submission-id": lock.submissionId },
        element("td", { text: detail.worker ? `${detail.worker}'s work` : lock.submissionId }),
        element("td", { text: members.get(lock.holderId) || detail.holder || "someone" }),
        element("td", { text: when(detail.acquiredAt) }),
        element("td", { text: when(lock.expiresAt) }),
      );
    }),
  );
}

const EVENT_TEXT = {
  OPENED: () => "Task opened",
  PAUSED: () => "Task paused",
  RESUMED: () => "Task resumed",
  CLOSED: (event) => `Task closed (${(event.closeReason || "no reason").toLowerCase().replaceAll("_", " ")})`,
  RULE_FIRED: (event) => `Rule fired: ${event.action || "an action"}${event.workerId ? " on a worker" : ""}`,
};

export function addEvent(text, kind) {
  const feed = $("events-feed");
  const item = element(
    "li",
    { "data-kind": kind },
    element("time", { datetime: new Date().toISOString(), text: time.format(new Date()) }),
    document.createTextNode(text),
  );
  feed.prepend(item);
  while (feed.children.length > 100) feed.lastElementChild.remove();
}

export function eventText(event) {
  return (EVENT_TEXT[event.kind] || (() => event.kind))(event);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

// Two lines, completion and approval rate (0-100) by day; a day without a denominator
// (null) breaks the line instead of drawing a 0.
export function renderChart(buckets) {
  const width = 640;
  const height = 220;
  const pad = { left: 36, right: 12, top: 12, bottom: 28 };
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "chart-title",
  });
  const title = svg("title", { id: "chart-title" });
  const last = buckets.at(-1);
  title.textContent = "Completion rate (solid) and approval rate (dashed) by day";
  root.append(title);
  const x = (index) =>
    pad.left + (buckets.length <= 1 ? 0 : (index * (width - pad.left - pad.right)) / (buckets.length - 1));
  const y = (value) => pad.top + ((100 - value) * (height - pad.top - pad.bottom)) / 100;
  for (const value of [0, 50, 100]) {
    root.append(svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
    const label = svg("text", { x: 4, y: y(value) + 4 });
    label.textContent = `${value}%`;
    root.append(label);
  }
  buckets.forEach((bucket, index) => {
    if (index % Math.max(1, Math.ceil(buckets.length / 7)) !== 0) return;
    const label = svg("text", { x: x(index) - 14, y: height - 8 });
    label.textContent = day.format(new Date(bucket.start));
    root.append(label);
  });
  for (const [field, css] of [["completionRate", "completion"], ["approvalRate", "approval"]]) {
    let points = [];
    const flush = () => {
      if (points.length) root.append(svg("polyline", { class: css, points: points.join(" ") }));
      points = [];
    };
    buckets.forEach((bucket, index) => {
      const value = bucket[field];
      if (value === null || value === undefined) flush();
      else {
        points.push(`${x(index).toFixed(1)},${y(value).toFixed(1)}`);
        root.append(svg("circle", { class: `${css} point`, cx: x(index).toFixed(1), cy: y(value).toFixed(1), r: 3.5 }));
      }
    });
    flush();
  }
  $("chart").replaceChildren(root);
  const pct = (value) => (value === null || value === undefined ? "no data" : `${value.toFixed(1)}%`);
  $("chart-summary").textContent = last
    ? `Today: completion ${pct(last.completionRate)}, approval ${pct(last.approvalRate)} (solid line completion, dashed approval).`
    : "No days in the period.";
}

export function renderVariants(group, comparison) {
  const box = $("variants");
  if (!group || !comparison) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $("variant-group").textContent = group;
  const against = new Map(comparison.againstControl.map((item) => [item.taskId, item]));
  const pct = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(1)}%`);
  $("variant-rows").replaceChildren(
    ...comparison.variants.map((variant, index) => {
      const versus = against.get(variant.taskId);
      let text = index === 0 ? "control" : "—";
      if (versus && versus.completionRate.difference !== null) {
        const diff = versus.completionRate.difference;
        const p = versus.completionRate.pValue;
        text = `completion ${diff >= 0 ? "+" : ""}${diff.toFixed(1)} pts${p === null ? "" : ` (p=${p.toFixed(2)})`}`;
      }
      return element(
        "tr",
        {},
        element("th", { scope: "row", text: variant.task.title }),
        element("td", { text: variant.starts }),
        element("td", { text: variant.submitted }),
        element("td", { text: pct(variant.completionRate) }),
        element("td", { text: pct(variant.approvalRate) }),
        element("td", { text }),
      );
    }),
  );
}
