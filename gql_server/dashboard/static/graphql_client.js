// GraphQL over HTTP (POST /graphql with Authorization: Bearer), and the errors a person
// needs told apart: a key that is not (or no longer) valid, a rate limit, a lost server.

export class ApiError extends Error {
  // kind: "unauthenticated" | "forbidden" | "rate_limited" | "over_budget" | "network" |
  // "graphql"
  constructor(kind, message, { code = null, retryAfterSeconds = null, cost = null, maximumCost = null } = {}) {
    super(message);
    this.kind = kind;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
    this.cost = cost;
    this.maximumCost = maximumCost;
  }
}

const KINDS = {
  UNAUTHENTICATED: "unauthenticated",
  FORBIDDEN: "forbidden",
  RATE_LIMITED: "rate_limited",
  COST_LIMIT_EXCEEDED: "over_budget",
};

export class GraphQLHttp {
  constructor(url, key) {
    this.url = url;
    this.key = key;
  }

  // The data of one operation; throws ApiError. Partial data with errors throws too: the
  // page shows nothing it could not read whole.
  async request(query, variables = {}) {
    let response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json, application/json",
          Authorization: `Bearer ${this.key}`,
        },
        body: JSON.stringify({ query, variables }),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError("network", "The server cannot be reached.");
    }
    let body;
    try {
      body = await response.json();
    } catch (error) {
      throw new ApiError("network", `The server answered ${response.status} without GraphQL.`);
    }
    const errors = body.errors || [];
    if (errors.length > 0) {
      const first = errors[0];
      const extensions = first.extensions || {};
      const code = extensions.code || null;
      throw new ApiError(KINDS[code] || "graphql", first.message, {
        code,
        retryAfterSeconds: extensions.retryAfterSeconds ?? null,
        cost: extensions.cost ?? null,
        maximumCost: extensions.maximumCost ?? null,
      });
    }
    return body.data;
  }
}

// A fresh idempotency key per action, kept while the action's outcome is unknown (the
// request failed on the way) so that trying the same action again sends the same key and
// the server does it at most once; forgotten once an answer arrived.
export class IdempotencyKeys {
  constructor() {
    this.pending = new Map();
  }

  keyFor(action) {
    if (!this.pending.has(action)) this.pending.set(action, crypto.randomUUID());
    return this.pending.get(action);
  }

  settled(action) {
    this.pending.delete(action);
  }
}
