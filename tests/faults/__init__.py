"""Fault tests: real server, PostgreSQL, Redis and worker processes broken on purpose.

test_approvals.py: database backends terminated mid-approval, and a server killed during
concurrent approvals and started again; clients retry with their idempotency keys and
every submission is paid exactly once. test_redis.py: Redis restarted under many
dashboards, and a Redis that hangs instead of dying. A callback worker killed between
commit and delivery is tests/callbacks/test_worker_process.py.
"""
