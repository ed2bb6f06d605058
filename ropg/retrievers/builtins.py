"""Built-in retrievers; importing this module registers them."""
