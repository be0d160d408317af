"""CVPlus video generation: ``core`` (pure decisions), ``api`` (the web contract), ``adapters``
(I/O) and ``shell`` (the I/O around the decisions, one module per trigger family)."""
