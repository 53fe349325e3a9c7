"""Python panels of the suite."""

from .overview import LabelLoopOverviewPanel

PANELS = [LabelLoopOverviewPanel]
