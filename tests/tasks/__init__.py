"""Tasks: creation, drafts and templates, lifecycle, targeting and what workers are offered."""
