"""The pure core: every decision as a function of values (time and chance passed in), no I/O."""
