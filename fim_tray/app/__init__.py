"""The use cases, one module each, and the `Service` facade that front ends call."""
