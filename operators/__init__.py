"""App/SDK glue: one module per capability; each operator is thin over ``core``."""

from .accept import AcceptPrelabels
from .compare import CompareModels
from .embeddings import ComputeEmbeddings
from .info import GetLabelLoopInfo
from .prelabel import Prelabel

OPERATORS = [GetLabelLoopInfo, Prelabel, AcceptPrelabels, ComputeEmbeddings, CompareModels]
