"""Accounts, members and API keys: authentication, roles, settings, tenancy."""
