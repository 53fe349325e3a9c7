"""@labelloop/mlops: the model-assisted labelling loop as a FiftyOne plugin."""

from .operators import OPERATORS
from .panels import PANELS


def register(p):
    """Registers every operator and panel of the suite with FiftyOne."""
    for cls in OPERATORS + PANELS:
        p.register(cls)
