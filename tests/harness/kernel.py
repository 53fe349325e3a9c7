"""A real IPython kernel (ipykernel, started by jupyter_client with this interpreter) on the session's database:
its cells run as in Jupyter, inside the kernel's running event loop."""

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from ipykernel.kernelspec import write_kernel_spec
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager

NAME = "labelloop-test"
STARTUP_TIMEOUT = 120.0
CELL_TIMEOUT = 300.0


class Cell(NamedTuple):
    """What a cell showed: ``status`` ("ok" or "error"), its ``stdout``, the ``result`` (text/plain of its value,
    "" when none) and, on error, the exception's ``ename`` and ``evalue``."""

    status: str
    stdout: str
    result: str
    ename: str = ""
    evalue: str = ""


class Kernel:
    """A started kernel: ``run`` executes a cell and waits, at most ``timeout`` seconds, for its reply."""

    def __init__(self, client: BlockingKernelClient):
        self.client = client

    def run(self, code: str, timeout: float = CELL_TIMEOUT) -> Cell:
        outputs = {"stdout": [], "result": []}

        def collect(message):
            content = message["content"]
            if message["msg_type"] == "stream" and content["name"] == "stdout":
                outputs["stdout"].append(content["text"])
            elif message["msg_type"] == "execute_result":
                outputs["result"].append(content["data"].get("text/plain", ""))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=collect)["content"]
        texts = {key: "".join(parts) for key, parts in outputs.items()}
        return Cell(reply["status"], **texts, ename=reply.get("ename", ""), evalue=reply.get("evalue", ""))


@contextmanager
def started_kernel() -> Iterator[Kernel]:
    """A kernel of ``sys.executable`` with this process's environment (the session's ``FIFTYONE_*`` settings),
    shut down afterwards."""
    with tempfile.TemporaryDirectory(prefix="labelloop-kernels-") as specs:
        write_kernel_spec(os.path.join(specs, NAME))
        manager = KernelManager(kernel_name=NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[specs]))
        assert manager.kernel_spec.argv[0] == sys.executable
        # without pytest's marker, which would make ipykernel skip capturing the output as it does in Jupyter
        environment = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
        manager.start_kernel(env=environment)
        client = manager.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=STARTUP_TIMEOUT)
            yield Kernel(client)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
