// graphql-transport-ws, spoken directly: connection_init with the key, ping/pong,
// subscribe/next/error/complete; reconnection with exponential backoff and full jitter;
// and, on reconnecting, every stream subscribed again with resumeFrom = the last version
// it saw, so the server sends what was missed (or a snapshot when that is too far back).

const PROTOCOL = "graphql-transport-ws";
// The server closes with 4403 when the key is not (or no longer) valid: not worth retrying.
const CLOSE_KEY_REJECTED = 4403;
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 5000;
const ACK_TIMEOUT_MS = 10000;
// The server pings every 15 s; silence for longer than this means the connection is dead.
const SILENCE_MS = 40000;
const MAX_REFUSALS = 3;

export class Stream {
  // field: the subscription's root field (e.g. "budget"); onMessage(message, meta) with
  // meta = { snapshot, resumedFrom, gap }; onError(errors).
  constructor(name, field, query, variables, { onMessage, onError }) {
    this.name = name;
    this.field = field;
    this.query = query;
    this.variables = variables;
    this.onMessage = onMessage;
    this.onError = onError || (() => {});
    this.lastVersion = null;
    this.resumedFrom = null;
    this.messages = 0;
    this.missed = 0;
    this.id = null;
  }
}

export class LiveConnection {
  // onState({ phase, attempt, detail }): phase is "connecting", "live", "reconnecting",
  // "resumed", "resynchronised" or "key-rejected". onStreams(): a stream's version moved.
  // checkKey(): a Promise of whether the key is still good, asked over HTTP when the
  // server refuses the websocket (4403 also ends a connection the server could not
  // authenticate for another reason); a refusal of a good key is retried, up to
  // MAX_REFUSALS in a row.
  constructor(url, key, { onState, onStreams, checkKey }) {
    this.url = url;
    this.key = key;
    this.onState = onState;
    this.onStreams = onStreams || (() => {});
    this.checkKey = checkKey || (async () => false);
    this.refusals = 0;
    this.streams = new Set();
    this.socket = null;
    this.acknowledged = false;
    this.everConnected = false;
    this.attempt = 0;
    this.closed = false;
    this.nextId = 1;
    this.timers = { retry: null, ack: null, silence: null };
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    for (const name of Object.keys(this.timers)) clearTimeout(this.timers[name]);
    if (this.socket) this.socket.close(1000, "dashboard closed");
    this.socket = null;
  }

  add(stream) {
    this.streams.add(stream);
    if (this.acknowledged) this.subscribe(stream);
    return stream;
  }

  remove(stream) {
    if (!this.streams.delete(stream)) return;
    if (this.acknowledged && stream.id !== null) this.send({ id: stream.id, type: "complete" });
    stream.id = null;
  }

  connect() {
    this.acknowledged = false;
    this.onState({
      phase: this.everConnected ? "reconnecting" : "connecting",
      attempt: this.attempt,
    });
    let socket;
    try {
      socket = new WebSocket(this.url, PROTOCOL);
    } catch (error) {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.send({ type: "connection_init", payload: { Authorization: `Bearer ${this.key}` } });
      this.timers.ack = setTimeout(() => socket.close(4408, "no connection_ack"), ACK_TIMEOUT_MS);
    });
    socket.addEventListener("message", (event) => this.receive(socket, event.data));
    socket.addEventListener("close", (event) => this.closedBy(socket, event));
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  watchSilence(socket) {
    clearTimeout(this.timers.silence);
    this.timers.silence = setTimeout(() => socket.close(4000, "the server fell silent"), SILENCE_MS);
  }

  receive(socket, raw) {
    if (socket !== this.socket) return;
    this.watchSilence(socket);
    let message;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      socket.close(4400, "unreadable message");
      return;
    }
    switch (message.type) {
      case "connection_ack": {
        clearTimeout(this.timers.ack);
        this.acknowledged = true;
        const resuming = this.everConnected;
        this.everConnected = true;
        this.attempt = 0;
        this.refusals = 0;
        for (const stream of this.streams) this.subscribe(stream, resuming);
        this.onState(this.resumeState(resuming));
        break;
      }
      case "ping":
        this.send({ type: "pong", payload: message.payload });
        break;
      case "pong":
        break;
      case "next":
        this.next(message.id, message.payload);
        break;
      case "error":
        this.errorOf(message.id, message.payload);
        break;
      case "complete":
        for (const stream of this.streams) if (stream.id === message.id) stream.id = null;
        break;
      default:
        break;
    }
  }

  resumeState(resuming) {
    if (!resuming) return { phase: "live" };
    const from = [...this.streams]
      .filter((stream) => stream.resumedFrom !== null)
      .map((stream) => `${stream.name} v${stream.resumedFrom}`);
    return { phase: "resumed", detail: from.join(", ") };
  }

  subscribe(stream, resuming = false) {
    stream.id = String(this.nextId++);
    stream.resumedFrom = resuming ? stream.lastVersion : null;
    const variables = { ...stream.variables, resumeFrom: stream.lastVersion };
    this.send({ id: stream.id, type: "subscribe", payload: { query: stream.query, variables } });
  }

  find(id) {
    for (const stream of this.streams) if (stream.id === id) return stream;
    return null;
  }

  next(id, payload) {
    const stream = this.find(id);
    if (!stream) return;
    if (payload.errors && payload.errors.length) {
      stream.onError(payload.errors);
      return;
    }
    const message = payload.data && payload.data[stream.field];
    if (!message) return;
    const expected = stream.lastVersion === null ? null : stream.lastVersion + 1;
    const gap = !message.snapshot && expected !== null && message.version !== expected;
    if (gap) stream.missed += message.version - expected;
    const resynchronised = message.snapshot && stream.lastVersion !== null;
    stream.lastVersion = message.version;
    stream.messages += 1;
    stream.onMessage(message, { snapshot: message.snapshot, resumedFrom: stream.resumedFrom, gap });
    this.onStreams();
    if (resynchronised) this.onState({ phase: "resynchronised", detail: `${stream.name} v${message.version}` });
  }

  errorOf(id, errors) {
    const stream = this.find(id);
    if (!stream) return;
    stream.id = null;
    stream.onError(errors);
  }

  closedBy(socket, event) {
    if (socket !== this.socket) return;
    clearTimeout(this.timers.ack);
    clearTimeout(this.timers.silence);
    this.socket = null;
    this.acknowledged = false;
    for (const stream of this.streams) stream.id = null;
    if (this.closed) return;
    if (event.code === CLOSE_KEY_REJECTED) {
      this.refused(event.reason);
      return;
    }
    this.retry();
  }

  async refused(reason) {
    this.refusals += 1;
    let good = false;
    if (this.refusals < MAX_REFUSALS) {
      try {
        good = await this.checkKey();
      } catch (error) {
        good = true; // the server cannot say now: try again later
      }
    }
    if (this.closed) return;
    if (good) this.retry();
    else this.onState({ phase: "key-rejected", detail: reason });
  }

  retry() {
    this.attempt += 1;
    // Full jitter: a random wait up to the doubled ceiling, so that many pages whose server
    // went away do not all come back in the same instant.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.random() * ceiling;
    this.onState({ phase: "reconnecting", attempt: this.attempt, retryInMs: delay });
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }
}
