"""The use cases, one module each, their helpers, the monitor loop and the `Service` facade."""
