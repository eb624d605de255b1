"""Model backends: one module per architecture family, all behind the `Backend` protocol."""
