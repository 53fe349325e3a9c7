"""Python panels of the suite."""

from .overview import LabelLoopOverviewPanel
from .regression import RegressionPanel

PANELS = [LabelLoopOverviewPanel, RegressionPanel]
