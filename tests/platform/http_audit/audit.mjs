// Runs graphql-http's server audits against the URL given as the only argument and prints
// one JSON line: every audit's id, name, status ("ok", or "error" / "warn" / "notice" for
// a failed MUST / SHOULD / MAY) and, if it failed, the reason.
import { auditServer } from 'graphql-http';

const results = await auditServer({ url: process.argv[2] });
console.log(
  JSON.stringify(
    results.map(({ id, name, status, reason }) => ({ id, name, status, reason })),
  ),
);
