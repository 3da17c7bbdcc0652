#!/usr/bin/env python3
"""A small PostHog capture-API server for btrun's analytics tests (loopback only).

POST /batch/ with a gzip'd JSON body {"api_key", "historical_migration", "batch": [...]}
is checked like PostHog's capture endpoint would (Content-Type, Content-Encoding,
api_key, each event's event/distinct_id/uuid/timestamp/properties) and answered from
a script of statuses. Events of requests answered 2xx are appended to --events (JSONL),
one line per request to --requests. It stops by itself after --lifetime seconds.

  --script "500,500,200"   statuses of successive requests (then 200); "429:2" adds
                           Retry-After: 2; "sleep10000" waits 10 s, then answers 200
  --max-batch N            413 for requests with more than N events
"""
import argparse
import os
import gzip
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUIRED_EVENT_KEYS = ("event", "distinct_id", "uuid", "timestamp", "properties")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--events", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--api-key", default="phc_test")
    p.add_argument("--script", default="")
    p.add_argument("--max-batch", type=int, default=0)
    p.add_argument("--lifetime", type=float, default=120.0)
    return p.parse_args()


ARGS = parse_args()
SCRIPT = [s for s in ARGS.script.split(",") if s]
LOCK = threading.Lock()
COUNTER = [0]


def append(path, obj):
    with LOCK, open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (shutdown deadline): nothing to answer

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        with LOCK:
            n = COUNTER[0]
            COUNTER[0] += 1
        step = SCRIPT[n] if n < len(SCRIPT) else "200"
        info = {"n": n, "path": self.path, "step": step,
                "content_type": self.headers.get("Content-Type"),
                "content_encoding": self.headers.get("Content-Encoding"),
                "user_agent": self.headers.get("User-Agent")}
        problem = self.check(raw, info)
        if problem:
            info.update(status=400, problem=problem)
            append(ARGS.requests, info)
            return self.reply(400, {"type": "validation_error", "detail": problem})
        body = info.pop("_body")
        events = body["batch"]
        if ARGS.max_batch and len(events) > ARGS.max_batch:
            info["status"] = 413
            append(ARGS.requests, info)
            return self.reply(413, {"detail": "payload too large"})
        headers = []
        status = 200
        if step.startswith("sleep"):
            time.sleep(int(step[5:]) / 1000.0)
        else:
            code, _, retry_after = step.partition(":")
            status = int(code)
            if retry_after:
                headers.append(("Retry-After", retry_after))
        info["status"] = status
        info["time"] = time.time()
        append(ARGS.requests, info)
        if 200 <= status < 300:
            for ev in events:
                ev = dict(ev)
                ev["_request"] = n
                ev["_historical_migration"] = body.get("historical_migration")
                append(ARGS.events, ev)
            return self.reply(status, {"status": "Ok"})
        return self.reply(status, {"type": "server_error", "detail": "scripted %d" % status},
                          headers)

    def check(self, raw, info):
        if self.path != "/batch/":
            return "unexpected path %s" % self.path
        if info["content_type"] != "application/json":
            return "Content-Type must be application/json"
        if info["content_encoding"] != "gzip":
            return "Content-Encoding must be gzip"
        try:
            body = json.loads(gzip.decompress(raw))
        except Exception as e:  # noqa: BLE001 - any decoding failure is a client bug
            return "body is not gzip'd JSON: %s" % e
        if body.get("api_key") != ARGS.api_key:
            return "wrong api_key"
        if not isinstance(body.get("batch"), list) or not body["batch"]:
            return "batch must be a non-empty list"
        if not isinstance(body.get("historical_migration"), bool):
            return "historical_migration must be a boolean"
        for ev in body["batch"]:
            missing = [k for k in REQUIRED_EVENT_KEYS if k not in ev]
            if missing:
                return "event missing %s" % missing
            if not isinstance(ev["properties"], dict):
                return "properties must be an object"
        info["_body"] = body
        return None


def main():
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))

        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    threading.Timer(ARGS.lifetime, server.shutdown).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
