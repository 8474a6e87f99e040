"""Read-only views over a built store: describe a resource, export, stats, explain an inferred fact, the report."""
