"""Reading a watched folder: the walk, hashing, excludes, compare; only the ground floor below."""
