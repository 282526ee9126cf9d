"""Audits: locks and leases, samples, outcomes and the audit reports."""
