"""Helpers for the `btrun serve` tests: start a real server on 127.0.0.1 (port 0, read back
from its service_listening record), talk to it with http.client, read its JSON log.

Everything is bounded in time: start waits <= 10 s, requests time out after 10 s, stop
sends SIGTERM and kills after 10 s."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

BTRUN = os.environ["BTRUN"]
SRC = os.environ["BTRUN_SRC"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


class Server:
    def __init__(self, tmp, name, config="return {}", args=(), env=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "cfg.lua")
        with open(self.cfg, "w") as f:
            f.write(config)
        self.log_path = os.path.join(self.dir, "serve.log")
        self.err_path = os.path.join(self.dir, "serve.err")
        e = dict(os.environ)
        e.pop("POSTHOG_API_KEY", None)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [BTRUN, "serve", "--config", self.cfg, "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.dir, "data"), "--log-format", "json", *args],
            stdout=open(self.log_path, "w"), stderr=open(self.err_path, "w"), env=e, cwd=SRC)
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline and self.port is None:
            for r in self.logs():
                if r.get("event") == "service_listening":
                    self.port = r["port"]
            if self.proc.poll() is not None:
                fail("%s: serve exited with %s: %s" % (name, self.proc.returncode,
                                                       open(self.err_path).read()))
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            fail("%s: no service_listening within 10 s" % name)

    def logs(self):
        out = []
        with open(self.log_path) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
        return out

    def request(self, method, path, body=None, headers=None, timeout=10):
        """-> (status, headers dict (lower-case names), parsed JSON or text)"""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
        except OSError as e:
            fail("%s %s: %s (serve exit status %s)\n-- serve.log tail:\n%s\n-- serve.err:\n%s" % (
                method, path, e, self.proc.poll(), "".join(open(self.log_path).readlines()[-5:]),
                open(self.err_path).read()[-3000:]))
        data = r.read().decode()
        h = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        if h.get("content-type", "").startswith("application/json") and data:
            data = json.loads(data)
        return r.status, h, data

    def raw(self, payload, timeout=10):
        """Send raw bytes; -> (response bytes, seconds until the server closed)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        t0 = time.time()
        s.sendall(payload)
        buf = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                buf += d
        except socket.timeout:
            pass
        s.close()
        return buf, time.time() - t0

    def alive(self):
        st, _, body = self.request("GET", "/healthz")
        return st == 200 and body["status"] == "ok"

    def wait_job(self, run_id, states=("succeeded", "failed", "cancelled"), timeout=30,
                 headers=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, _, j = self.request("GET", "/v1/backtests/" + run_id, headers=headers)
            if st != 200:
                fail("GET %s: %s %s" % (run_id, st, j))
            if j["status"] in states:
                return j
            time.sleep(0.05)
        fail("job %s not in %s within %s s (last: %s)" % (run_id, states, timeout, j))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
