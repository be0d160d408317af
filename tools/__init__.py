"""Local-stack tools: servers and helpers for tests and local runs, never deployed."""
