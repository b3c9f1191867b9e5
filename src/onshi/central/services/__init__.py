"""Use cases of the central service: storage and rules joined, every access audited."""
