"""App/SDK glue: one module per capability; each operator is thin over ``core``."""

from .info import GetLabelLoopInfo

OPERATORS = [GetLabelLoopInfo]
