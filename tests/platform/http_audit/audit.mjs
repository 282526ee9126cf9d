// Runs graphql-http's server audits against the URL given as the first argument and prints
// one JSON line: every audit's id, name, status ("ok", or "error" / "warn" / "notice" for
// a failed MUST / SHOULD / MAY) and, if it failed, the reason. The second argument, if
// any, is an API key sent with every request: some audits introspect, which the
// production posture allows members' keys only.
import { auditServer } from 'graphql-http';

const [url, key] = process.argv.slice(2);
const fetchFn = key
  ? (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('Authorization', `Bearer ${key}`);
      return fetch(input, { ...init, headers });
    }
  : fetch;
const results = await auditServer({ url, fetchFn });
console.log(
  JSON.stringify(
    results.map(({ id, name, status, reason }) => ({ id, name, status, reason })),
  ),
);
