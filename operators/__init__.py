"""App/SDK glue: one module per capability; each operator is thin over ``core``."""

from .accept import AcceptPrelabels
from .active_learning import SelectForAnnotation
from .compare import CompareModels
from .cvat_load import FinishCVATReview, LoadFromCVAT
from .cvat_send import SendToCVAT
from .cvat_status import CVATStatus
from .embedding_map import ComputeEmbeddingMap
from .embeddings import ComputeEmbeddings
from .info import GetLabelLoopInfo
from .mistakenness import ComputeMistakenness
from .prelabel import Prelabel
from .runs import ManageRuns
from .uniqueness import ComputeUniqueness, FindNearDuplicates

OPERATORS = [
    GetLabelLoopInfo,
    Prelabel,
    AcceptPrelabels,
    ComputeEmbeddings,
    CompareModels,
    ComputeEmbeddingMap,
    SelectForAnnotation,
    ComputeMistakenness,
    ComputeUniqueness,
    FindNearDuplicates,
    ManageRuns,
    SendToCVAT,
    CVATStatus,
    LoadFromCVAT,
    FinishCVATReview,
]
