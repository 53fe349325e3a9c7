"""Models: where they come from, which task they do, and predictors for the zoo and transformers."""
