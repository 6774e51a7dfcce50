"""Worker processes for a daemon that serves its RPC topic from several
processes ([conductor] workers, [scheduler] workers), as upstream's services
do: the consumers of one topic queue share its messages.

The parent forks the workers before it opens anything (threads, sockets and
database connections do not survive a fork), then only supervises them:

- SIGTERM or SIGINT: the workers get SIGTERM (each stops as a single daemon
  does: calls in progress finish); the parent returns once all have exited.
- A worker that exits with EXIT_CANNOT_START (its configuration, which every
  worker reads alike): the others are stopped and the daemon exits with it.
- A worker that dies otherwise (a crash, a kill) is started again after
  RESPAWN_DELAY seconds, with one log line.
- A parent that dies without stopping them (SIGKILL) takes its workers
  along: each gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and stops, so
  that none goes on serving the topic beside the parent's replacement.
"""

import ctypes
import logging
import os
import signal
import time

LOG = logging.getLogger(__name__)

RESPAWN_DELAY = 1.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Supervisor:
    def __init__(self, prog, count, run_worker, *, exit_cannot_start, exit_stopped):
        """``run_worker()`` is a worker's whole life in the child; it returns
        the exit code. It starts with SIGTERM and SIGINT blocked, and unblocks
        them once it has its handlers."""
        self.prog = prog
        self.count = count
        self.run_worker = run_worker
        self.exit_cannot_start = exit_cannot_start
        self.exit_stopped = exit_stopped
        self.children = set()
        self.stopping = False
        self.pid = os.getpid()

    def run(self):
        """Start the workers and supervise them until they are all gone;
        returns the daemon's exit code."""
        # A worker resets them at once: it must never forward signals to its siblings.
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        for _ in range(self.count):
            if not self.stopping:
                self._spawn()
        LOG.info("%s started %d worker processes: %s", self.prog, self.count,
                 ", ".join(map(str, sorted(self.children))))
        code = self.exit_stopped
        while self.children:
            pid, status = os.wait()
            self.children.discard(pid)
            exit_code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue
            if exit_code == self.exit_cannot_start:
                LOG.error("%s worker %d cannot start; stopping the other workers",
                          self.prog, pid)
                code = self.exit_cannot_start
                self._stop_all()
                continue
            LOG.warning("%s worker %d exited unexpectedly (%s); starting another in %g s",
                        self.prog, pid, _describe(exit_code), RESPAWN_DELAY)
            time.sleep(RESPAWN_DELAY)
            if not self.stopping:
                self._spawn()
        return code

    def _spawn(self):
        # Signals wait until the new worker is among the children: a SIGTERM
        # handled in between would not reach it.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker
            # Not the parent's handler; and the signals stay blocked until
            # run_worker has its own handlers (service._run unblocks them),
            # so that a SIGTERM now stops the worker as it would later.
            for signum in _STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            _stop_when_parent_dies(self.pid)
            code = 1
            try:
                code = self.run_worker()
            finally:
                logging.shutdown()
                os._exit(code)
        self.children.add(pid)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def _on_signal(self, signum, frame):
        first = not self.stopping
        # The workers first: the main thread may be inside a log call, and a
        # log call here can then fail (a reentrant write to the stream).
        self._stop_all()
        if first:
            LOG.info("%s received %s, stopping its workers", self.prog,
                     signal.Signals(signum).name)

    def _stop_all(self):
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _stop_when_parent_dies(parent):
    """SIGTERM to this process when ``parent`` dies (still blocked here: it
    arrives once the worker has its handlers)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        LOG.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent:  # it died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def _describe(exit_code):
    if exit_code < 0:
        return f"killed by {signal.Signals(-exit_code).name}"
    return f"exit code {exit_code}"
