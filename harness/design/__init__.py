"""What a cluster is meant to be: the designs (seed, hardened, controls) and their node lists. Pure data."""
