"""The I/O adapters: providers' HTTP APIs, Firestore and in-memory stores, Cloud Storage,
Cloud Tasks and structured logs."""
