"""@labelloop/mlops: the model-assisted labelling loop as a FiftyOne plugin."""


def register(p):
    """Registers every operator and panel of the suite with FiftyOne (imported here, so that importing this file
    outside its package — e.g. by a test collector — has no side effects)."""
    from .operators import OPERATORS
    from .panels import PANELS

    for cls in OPERATORS + PANELS:
        p.register(cls)
