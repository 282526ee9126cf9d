"""Money: amounts, the double-entry ledger, idempotent payments, and money under concurrency."""
