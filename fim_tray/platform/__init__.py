"""Platform features with one backend per OS, each chosen in exactly one function."""
