"""GraphQL backend for the requester side of a crowd-work platform."""
