"""GraphQL types, inputs, payloads and enums; the root schema and its exported SDL."""
