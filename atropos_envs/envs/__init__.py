"""Built-in environments, one module each."""
