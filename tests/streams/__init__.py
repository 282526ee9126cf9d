"""Live streams: the stream log, feeds, the Redis back end, subscriptions over graphql-transport-ws."""
