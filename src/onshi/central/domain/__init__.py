"""Rules of the central service: pure functions over immutable values, no I/O."""
