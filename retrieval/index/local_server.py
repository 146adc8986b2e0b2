"""One embedded store, several newsbot processes: the store served by Chroma's own server.

Chroma's embedded mode is single-process. So a long-running command (`discord`, `chat`,
`watch`, `ingest`) does not open the directory itself: it starts a small supervisor process
(`python -m retrieval.index.local_server`) that runs `chroma run` for the directory on
127.0.0.1, records where it listens, and stops it once no newsbot process uses it any more.
Every newsbot command on the same directory (including the one that started it) connects with
`chromadb.HttpClient`. With no server running, a short command (`ask`, `articles`, `remove`)
opens the directory embedded, as before, and one that finds it held by another short command
waits for it.

Three files beside the store, each with one job:

- `.newsbot.lock`: an exclusive `flock`, held by whoever has the directory open: the
  supervisor, or a command using it embedded. The kernel drops it when its holder dies.
- `.newsbot-users.lock`: a shared `flock` held by every process connected to the server. The
  supervisor stops the server when it can take it exclusively (no user left) — so a killed
  user, whose lock the kernel drops, never keeps a server alive.
- `.newsbot-server.json`: where the server listens (always 127.0.0.1) and the two process ids.
  Written once the server answers, removed before it stops; a record left by a killed
  supervisor is found stale (the directory's lock is free) and removed by the next opener.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from retrieval.errors import StoreError

__all__ = ["LocalConnection", "connect_local"]

LOCK_FILE = ".newsbot.lock"
USERS_FILE = ".newsbot-users.lock"
RECORD_FILE = ".newsbot-server.json"
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0  # `chroma run` answers within ~1-3 s here; a loaded machine is slower
IDLE_POLL_S = 0.5  # how often the supervisor looks for remaining users

log = logging.getLogger("newsbot.store")


@dataclass(frozen=True)
class ServerRecord:
    port: int
    supervisor_pid: int
    chroma_pid: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class LocalConnection:
    """What a process holds while it uses the directory: the Chroma client, and the lock that
    says so (the directory's own lock in embedded mode, a users' lock in server mode)."""

    client: Any
    url: str | None  # the local server's address; None when embedded
    _held: IO[str] | None

    def close(self) -> None:
        if self._held is not None:
            self._held.close()  # closing the file drops its flock
            self._held = None


def _open_lock(path: Path) -> IO[str]:
    return open(path, "a+")


def _try_exclusive(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _write_holder(handle: IO[str], what: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} ({what})\n")
    handle.flush()


def _command() -> str:
    """What this process is, for a waiting one to read: `ask` for `newsbot ask …`."""
    if Path(sys.argv[0]).name == "newsbot" and len(sys.argv) > 1:
        return f"newsbot {sys.argv[1]}"
    return "newsbot"


def _holder(directory: Path) -> str:
    try:
        return (directory / LOCK_FILE).read_text("utf-8").strip() or "another newsbot process"
    except OSError:
        return "another newsbot process"


def read_record(directory: Path) -> ServerRecord | None:
    try:
        data = json.loads((directory / RECORD_FILE).read_text("utf-8"))
        return ServerRecord(int(data["port"]), int(data["supervisor_pid"]), int(data["chroma_pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _answers(record: ServerRecord, timeout_s: float = 2.0) -> bool:
    """The server at the record's loopback port answers Chroma's heartbeat."""
    try:
        with urllib.request.urlopen(f"{record.url}/api/v2/heartbeat", timeout=timeout_s) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _is_chroma(pid: int) -> bool:
    try:
        return b"chroma" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _clear_stale(directory: Path) -> None:
    """(Holding the directory's lock.) A record left by a killed supervisor: its server dies
    with it (see `_die_with_parent`), but make sure before the directory is opened again."""
    record = read_record(directory)
    if record is None:
        return
    if _is_chroma(record.chroma_pid):
        with contextlib.suppress(OSError):
            os.kill(record.chroma_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _is_chroma(record.chroma_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    (directory / RECORD_FILE).unlink(missing_ok=True)
    log.info("removed the record of a newsbot store server that was killed (%s)", record.url)


def _http_client(record: ServerRecord) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.HttpClient(
        host=LOOPBACK, port=record.port, settings=ChromaSettings(anonymized_telemetry=False)
    )


def connect_local(directory: Path, *, serve: bool, wait_s: float) -> LocalConnection:
    """Use the store directory: through the local server if one runs (started here first when
    `serve`), else embedded. Waits up to `wait_s` for a command that holds it embedded."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    directory.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        users = _open_lock(directory / USERS_FILE)
        # blocks only while a supervisor is stopping (it holds this exclusively meanwhile)
        fcntl.flock(users, fcntl.LOCK_SH)
        record = read_record(directory)
        if record is not None and _answers(record):
            try:
                return LocalConnection(_http_client(record), record.url, users)
            except Exception as exc:
                users.close()
                if _answers(record):  # not a server that stopped after its heartbeat
                    raise StoreError(
                        f"cannot use the store server at {record.url} ({exc})"
                    ) from None
                continue  # it stopped: its record is stale, and cleared on the next round
        users.close()

        lock = _open_lock(directory / LOCK_FILE)
        if _try_exclusive(lock):
            _clear_stale(directory)
            if not serve:
                _write_holder(lock, _command())
                try:
                    client = chromadb.PersistentClient(
                        path=str(directory), settings=ChromaSettings(anonymized_telemetry=False)
                    )
                except Exception:
                    lock.close()
                    raise
                return LocalConnection(client, None, lock)
            users = _open_lock(directory / USERS_FILE)
            fcntl.flock(users, fcntl.LOCK_SH)  # a user before the server: it stays up
            try:
                record = _start_supervisor(directory, lock)
            except BaseException:
                users.close()
                raise
            finally:
                lock.close()  # the supervisor holds the directory's lock from here on
            return LocalConnection(_http_client(record), record.url, users)
        lock.close()
        if time.monotonic() > deadline:
            raise StoreError(
                f"the store at {directory} is still in use by {_holder(directory)} after "
                f"{wait_s:g} s; wait for it to finish, or raise NEWSBOT_STORE_WAIT_S"
            )
        if not told:
            # on stderr, as the CLI's progress is: the user sees why nothing happens yet
            print(f"waiting for {_holder(directory)} to finish with the store…", file=sys.stderr)
            told = True
        time.sleep(0.2)


def _start_supervisor(directory: Path, lock: IO[str]) -> ServerRecord:
    """(Holding the directory's lock, and a users' lock.) Start the supervisor, hand it the
    directory's lock (the same open file, so the same flock) and wait until its server answers."""
    _write_holder(lock, "store server")
    log_path = directory / ".newsbot-server.log"
    with open(log_path, "wb") as log_file:  # this start's only
        supervisor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "retrieval.index.local_server",
                str(directory),
                "--lock-fd",
                str(lock.fileno()),
            ],
            pass_fds=(lock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not stopped by the terminal's Ctrl-C with its starter
            env={**os.environ, "PYTHONPATH": _import_root()},
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        record = read_record(directory)
        if record is not None and record.supervisor_pid == supervisor.pid and _answers(record):
            # reaped when it ends (it may outlive this process, or end first: no zombie)
            threading.Thread(target=supervisor.wait, daemon=True).start()
            return record
        if supervisor.poll() is not None:
            break
        time.sleep(0.05)
    else:
        supervisor.kill()
    supervisor.wait()
    tail = log_path.read_text("utf-8", "replace")[-600:].strip()
    raise StoreError(f"could not start the local Chroma server for {directory}: {tail}")


def _import_root() -> str:
    """PYTHONPATH for the supervisor: where this package is imported from, then the rest."""
    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{rest}" if rest else root


# -- the supervisor ------------------------------------------------------------------------


def _die_with_parent() -> None:
    """(In the child, before exec.) Linux: the server gets SIGTERM when its supervisor dies,
    however it dies, so a killed supervisor never leaves a server holding the directory."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _chroma_command() -> str:
    beside = Path(sys.executable).parent / "chroma"  # the venv's, installed with chromadb
    if beside.exists():
        return str(beside)
    import shutil

    found = shutil.which("chroma")
    if not found:
        raise SystemExit("the `chroma` command (installed with chromadb) is not found")
    return found


def run_chroma(directory: Path) -> tuple[subprocess.Popen[bytes], ServerRecord]:
    """`chroma run` for the directory on a free loopback port (another one if that port is
    taken meanwhile), once it answers."""
    for _attempt in range(5):
        port = _free_port()
        command = [_chroma_command(), "run", "--path", str(directory)]
        chroma = subprocess.Popen(
            [*command, "--host", LOOPBACK, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
            preexec_fn=_die_with_parent,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        record = ServerRecord(port, os.getpid(), chroma.pid)
        deadline = time.monotonic() + START_TIMEOUT_S
        while chroma.poll() is None and time.monotonic() < deadline:
            if _answers(record, timeout_s=1.0):
                return chroma, record
            time.sleep(0.05)
        stop_chroma(chroma)
    raise SystemExit("chroma run did not start (see the lines above)")


def stop_chroma(chroma: subprocess.Popen[bytes]) -> None:
    chroma.terminate()
    try:
        chroma.wait(timeout=15)
    except subprocess.TimeoutExpired:
        chroma.kill()
        chroma.wait()


def supervise(directory: Path, lock_fd: int) -> int:
    """Run the server while any newsbot process uses it; the directory's lock (inherited as
    `lock_fd`) is held until this process exits, after the server has stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lock = os.fdopen(lock_fd, "a+")  # keeps the inherited flock for this process's life
    chroma, record = run_chroma(directory)
    users = _open_lock(directory / USERS_FILE)
    try:
        tmp = directory / f"{RECORD_FILE}.tmp"
        tmp.write_text(
            json.dumps(
                {
                    "port": record.port,
                    "supervisor_pid": record.supervisor_pid,
                    "chroma_pid": chroma.pid,
                }
            ),
            "utf-8",
        )
        tmp.replace(directory / RECORD_FILE)
        print(f"serving {directory} at {record.url} (chroma pid {chroma.pid})", flush=True)
        while chroma.poll() is None:
            time.sleep(IDLE_POLL_S)
            if _try_exclusive(users):  # no user left: stop, holding it so none arrives
                break
    finally:
        (directory / RECORD_FILE).unlink(missing_ok=True)
        stop_chroma(chroma)
        print(f"stopped serving {directory}", flush=True)
        users.close()
        lock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=supervise.__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--lock-fd", type=int, required=True)
    args = parser.parse_args(argv)
    return supervise(args.directory, args.lock_fd)


if __name__ == "__main__":
    sys.exit(main())
