"""FiftyOne's CVAT annotation backend, driven through our ``CVATConnection``.

``annotate()`` builds its backend from a config class; ours hands the backend an already connected
``CVATConnection`` and is stored under FiftyOne's own class name, so the annotation run stays an ordinary CVAT run
that plain FiftyOne can read (credentials are private attributes, never serialized).
"""

import fiftyone.utils.cvat as fouc

FIFTYONE_CONFIG_CLASS = "fiftyone.utils.cvat.CVATBackendConfig"


class ConnectedCVATBackendConfig(fouc.CVATBackendConfig):
    """A CVAT backend config whose backend uses the given connection (``connection=``)."""

    def __init__(self, name, label_schema, connection=None, **kwargs):
        super().__init__(name or "cvat", label_schema, **kwargs)
        self._connection = connection

    @property
    def cls(self) -> str:
        """The class name stored with the run: FiftyOne's own, so plain FiftyOne can read the run."""
        return FIFTYONE_CONFIG_CLASS

    @property
    def run_cls(self) -> type[fouc.CVATBackend]:
        """The backend that uses the config's connection."""
        return ConnectedCVATBackend


class ConnectedCVATBackend(fouc.CVATBackend):
    """FiftyOne's CVAT backend, using the config's connection instead of opening its own."""

    def _connect_to_api(self):
        return self.config._connection
