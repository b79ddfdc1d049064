"""Edge deployment topologies described as networkx graphs."""
