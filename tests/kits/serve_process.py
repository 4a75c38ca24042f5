"""ServeProcess: the real `syncstack serve` as a child process, for the
Python end-to-end scripts (the C++ twin is serve_process.h).

It starts `<binary> serve <args...>` with stdout and stderr going to files of
its own, waits for the first line of stdout ("syncstack: serving ... on
http://127.0.0.1:PORT (...)", https:// with --tls-cert), and takes the URL
and port from it. stop()
sends SIGTERM and returns the exit code (SIGKILL after a timeout).

    serve = ServeProcess(SYNCSTACK, "--store", store, "--listen", "127.0.0.1:0")
    call(serve.port, ...)
    code = serve.stop()
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time


class ServeProcess:
    def __init__(self, binary, *args, start_timeout=30.0):
        self._dir = tempfile.mkdtemp(prefix="syncstack-serve-")
        self._out = os.path.join(self._dir, "stdout")
        self._err = os.path.join(self._dir, "stderr")
        with open(self._out, "wb") as out, open(self._err, "wb") as err:
            self.proc = subprocess.Popen([binary, "serve", *args], stdout=out,
                                         stderr=err)
        self.first_line = self._wait_for_first_line(start_timeout)
        self.url = ""
        self.port = None
        at = min((i for i in (self.first_line.find("http://"),
                              self.first_line.find("https://")) if i >= 0),
                 default=-1)
        if at >= 0:
            self.url = self.first_line[at:].split()[0]
            self.port = int(self.url.rsplit(":", 1)[1])

    def _wait_for_first_line(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            out = self.stdout()
            if "\n" in out:
                return out.split("\n", 1)[0]
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited (%d) before its first line: %s"
                                   % (self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("serve printed no line in time: "
                                   + self.stderr())
            time.sleep(0.01)

    def stdout(self):
        with open(self._out, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self._err, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout=30.0):
        """SIGTERM, then the exit code (negative: the signal that ended it)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __del__(self):
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)
