"""Tests that cut across the domains: the platform the use cases run on.

The committed schema and migrations against the code (drift), the real server process
(`gql-server serve`: health, GraphiQL, the WebSocket handshake), cursor pagination as every
connection does it, and the README's example session end to end through the API. A test
belongs here when it is about how the service is built or served rather than about one
domain's use cases.
"""
