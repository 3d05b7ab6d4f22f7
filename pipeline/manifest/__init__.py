"""The shot list as the user wrote it: YAML with positions, the schema, the checker, the models."""
