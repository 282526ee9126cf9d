"""Domain logic: one module per domain, one transaction per use case, no GraphQL here."""
