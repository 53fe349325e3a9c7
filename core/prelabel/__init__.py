"""Pre-labelling: running a model over a collection, label mapping, sharding, accepting pre-labels."""
