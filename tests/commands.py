"""Run a command line as a user types it, in a process of its own, without paying for imports.

``Commands.run(command, cwd)`` runs ``coinfer ...`` and ``python ...`` lines. Importing
coinfer's command line (numpy, scipy, pyarrow, pydantic, simpy) is most of what a short command
costs, so ``coinfer ...`` lines do not start a new interpreter: a fork server, this file run as a
script, imports the ``coinfer`` console script's entry point once, and forks a child per
command. The child is a fresh process like the one the console script starts: ``sys.argv``,
``sys.path[0]``, the current directory and the environment are the command's, stdin is empty,
stdout and stderr go to files; it calls the entry point as the script does
(``sys.exit(main())``) and exits the normal way, running ``atexit`` handlers. ``python ...``
lines (example scripts, benchmarks) run in a new interpreter, and so does everything where
forking a Python that has loaded numpy is not safe (anywhere but Linux).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 600  # a command still running after this is killed (SIGALRM) and fails
FORK = sys.platform == "linux"  # macOS and Windows start processes afresh (spawn)


def coinfer_script() -> Path:
    """This environment's ``coinfer`` script (beside its Python, not the first on ``PATH``)."""
    return Path(sys.executable).with_name("coinfer")


class Commands:
    """Runs command lines; start one per process and ``close`` it when done."""

    def __init__(self, scratch: Path):
        self.scratch = scratch  # the fork server's log and the children's outputs
        self.count = 0
        self.log = scratch / "fork-server.log"
        self.server = None
        if FORK:
            with self.log.open("w") as log:
                self.server = subprocess.Popen(
                    [sys.executable, __file__, str(coinfer_script())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    cwd=scratch,
                )

    def run(self, command: str, cwd: Path) -> subprocess.CompletedProcess:
        argv = shlex.split(command)
        if argv[0] not in ("coinfer", "python"):
            raise ValueError(f"not a coinfer or python command: {command}")
        if argv[0] == "python" or self.server is None:
            if argv[0] == "python":
                start = [sys.executable]
            elif coinfer_script().is_file():
                start = [str(coinfer_script())]
            else:  # an environment with no scripts beside its Python (Windows: Scripts\)
                start = [sys.executable, "-m", "coinfer.emulator.cli.main"]
            return subprocess.run(
                [*start, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S
            )
        self.count += 1
        out, err = (self.scratch / f"{self.count}.{name}" for name in ("out", "err"))
        request = {
            "argv": [str(coinfer_script()), *argv[1:]],
            "cwd": str(cwd),
            "env": dict(os.environ),
            "stdout": str(out),
            "stderr": str(err),
        }
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        reply = self.server.stdout.readline()
        if not reply:
            raise RuntimeError(f"the fork server stopped:\n{self.log.read_text()}")
        return subprocess.CompletedProcess(
            argv, json.loads(reply), out.read_text(), err.read_text()
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.stdin.close()
            self.server.wait(timeout=60)


# ---- the fork server: `python tests/commands.py <coinfer script>` ------------------------------


def serve(script: str) -> None:
    """Read one request per line, fork a child that runs it, write back its exit status."""
    from importlib.metadata import entry_points

    (entry_point,) = entry_points(group="console_scripts", name="coinfer")
    main = entry_point.load()  # imports the command line once, before any fork
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            run_in_child(request, script, main)  # exits: never returns
        _, status = os.waitpid(child, 0)
        print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)


def run_in_child(request: dict, script: str, main) -> None:
    import signal

    signal.alarm(TIMEOUT_S)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        os.dup2(os.open(path, flags), fd)
    sys.argv = request["argv"]
    sys.path.insert(0, os.path.dirname(script))  # as for the console script itself
    sys.exit(main())


if __name__ == "__main__":
    del sys.path[0]  # this folder (tests/) is not on the console script's path
    serve(sys.argv[1])
