"""The GraphQL schema: Strawberry types, inputs, enums and scalars; built in `build`."""
