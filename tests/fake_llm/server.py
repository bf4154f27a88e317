#!/usr/bin/env python3
"""A fake LLM server for gevo's tests: OpenAI chat completions and the
Anthropic Messages API, with and without streaming, answering from scripted
response files and injecting faults on request.

    python3 tests/fake_llm/server.py [--answers DIR]...

It listens on 127.0.0.1, port 0, and prints the chosen port as its first
line of output. It exits when its parent process goes away.

The script of a request comes from the X-Fake-Script header if present,
else from the model name: the part after the first '/' (the part before it
only keeps counters of different tests apart), e.g. model "t7/429:1,ok:a1".
Steps are separated by ','; request number k of that model uses step k, the
last step repeats forever. Steps:

    ok[:NAME]        answer with the text of file NAME (from the --answers
                     folders, .txt or .md may be left out); default "Hello."
    length:NAME      the same, with finish_reason "length" (truncated)
    reason:NAME      reasoning_content deltas first, then the answer
    nousage:NAME     no usage in the answer
    drip:NAME        stream the answer a few bytes at a time
    slow:MS[:NAME]   wait MS milliseconds, then answer
    429[:SECONDS]    HTTP 429, with Retry-After when SECONDS is given
    NNN              any other HTTP status with a JSON error body
    reset            read the request, then reset the connection
    resetmid         stream part of the answer, then reset
    badjson          a malformed JSON body (or a malformed event when streaming)
    truncate         stream part of the answer and end without finishing
                     (not streaming: a body shorter than its Content-Length)

GET /stats returns {"requests": {model: count}, "last": request body,
"last_headers": {...}, "max_inflight": {model: most requests at once}}.
"""
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER_DIRS = []
LOCK = threading.Lock()
COUNTS = {}
STATE = {"last": None, "last_headers": {}, "inflight": {}, "max_inflight": {}}
PROMPT_TOKENS = 1000
COMPLETION_TOKENS = 500


def load_answer(name):
    if not name:
        return "Hello."
    for d in ANSWER_DIRS:
        for ext in ("", ".txt", ".md"):
            p = os.path.join(d, name + ext)
            if os.path.isfile(p):
                with open(p, "r", encoding="utf-8", newline="") as f:
                    return f.read()
    return "fake server: no answer file named %r" % name


def chunks(text, size=23):
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    # -- helpers -----------------------------------------------------------
    def send_json(self, code, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def reset(self):
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, obj, name=None):
        data = obj if isinstance(obj, str) else json.dumps(obj)
        msg = (("event: %s\n" % name if name else "") + "data: %s\n\n" % data).encode()
        if getattr(self, "drip", False):
            # a few bytes at a time: lines and events split across reads
            for i in range(0, len(msg), 5):
                self.wfile.write(msg[i:i + 5])
                self.wfile.flush()
                time.sleep(0.0005)
            return
        self.wfile.write(msg)
        self.wfile.flush()

    # -- endpoints ---------------------------------------------------------
    def do_GET(self):
        if self.path.startswith("/stats"):
            with LOCK:
                self.send_json(200, {"requests": COUNTS,
                                     "last": STATE["last"],
                                     "last_headers": STATE["last_headers"],
                                     "max_inflight": STATE["max_inflight"]})
        else:
            self.send_json(404, {"error": {"message": "no such page"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            req = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "request is not JSON"}})
            return
        anthropic = self.path.rstrip("/").endswith("/messages")
        if not anthropic and not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": "unknown path " + self.path}})
            return
        model = str(req.get("model", ""))
        script = self.headers.get("X-Fake-Script")
        if script is None:
            script = model.split("/", 1)[1] if "/" in model else model
        steps = script.split(",")
        with LOCK:
            k = COUNTS.get(model, 0)
            COUNTS[model] = k + 1
            STATE["last"] = req
            STATE["last_headers"] = {h.lower(): v for h, v in self.headers.items()}
            inflight = STATE["inflight"].get(model, 0) + 1
            STATE["inflight"][model] = inflight
            STATE["max_inflight"][model] = max(STATE["max_inflight"].get(model, 0), inflight)
        try:
            self.serve_step(steps[min(k, len(steps) - 1)], req, anthropic)
        finally:
            with LOCK:
                STATE["inflight"][model] -= 1

    def serve_step(self, step, req, anthropic):
        kind, _, arg = step.partition(":")
        stream = bool(req.get("stream"))
        if kind == "slow":
            ms, _, arg = arg.partition(":")
            time.sleep(int(ms) / 1000.0)
            kind = "ok"
        if kind == "429":
            extra = {"Retry-After": arg} if arg else {}
            self.send_json(429, {"error": {"message": "rate limit reached, slow down",
                                           "type": "rate_limit"}}, extra)
            return
        if kind.isdigit():
            self.send_json(int(kind), {"error": {"message": "fake failure %s" % kind}})
            return
        if kind == "reset":
            self.reset()
            return
        if kind == "badjson":
            if stream:
                self.start_stream()
                self.wfile.write(b'data: {"choices": [{"delta": {"content": "hi"\n\n')
                self.wfile.flush()
                return
            body = b'{"choices": [{"message": {"content": "unterminated'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        text = load_answer(arg) if kind in ("ok", "length", "reason", "nousage", "drip",
                                            "truncate", "resetmid") else None
        if text is None:
            self.send_json(400, {"error": {"message": "fake server: unknown step " + step}})
            return
        finish = "length" if kind == "length" else "stop"
        reasoning = "First I look at the block. Then I decide." if kind == "reason" else ""
        usage = kind != "nousage"
        if kind in ("truncate", "resetmid") and not stream:
            # half a body: shorter than its Content-Length, then close or reset
            body = json.dumps({"choices": [{"message": {"content": text}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if kind == "resetmid":
                self.reset()
            self.close_connection = True
            return
        self.drip = kind == "drip"
        if anthropic:
            self.anthropic(req, text, finish, reasoning, usage, stream, kind)
        else:
            self.openai(req, text, finish, reasoning, usage, stream, kind)

    def openai(self, req, text, finish, reasoning, usage, stream, kind):
        model = req.get("model", "")
        u = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
             "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}
        if not stream:
            msg = {"role": "assistant", "content": text}
            if reasoning:
                msg["reasoning_content"] = reasoning
            obj = {"id": "fake-1", "object": "chat.completion", "model": model,
                   "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}
            if usage:
                obj["usage"] = u
            self.send_json(200, obj)
            return
        self.start_stream()
        base = {"id": "fake-1", "object": "chat.completion.chunk", "model": model}
        self.event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"},
                                        "finish_reason": None}]))
        for piece in chunks(reasoning) if reasoning else []:
            self.event(dict(base, choices=[{"index": 0, "delta": {"reasoning_content": piece},
                                            "finish_reason": None}]))
        parts = chunks(text)
        if kind in ("truncate", "resetmid"):
            parts = parts[: max(1, len(parts) // 2)]
        for piece in parts:
            self.event(dict(base, choices=[{"index": 0, "delta": {"content": piece},
                                            "finish_reason": None}]))
        if kind == "truncate":
            return
        if kind == "resetmid":
            self.reset()
            return
        self.event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
        if usage and (req.get("stream_options") or {}).get("include_usage"):
            self.event(dict(base, choices=[], usage=u))
        self.event("[DONE]")

    def anthropic(self, req, text, finish, reasoning, usage, stream, kind):
        model = req.get("model", "")
        stop = "max_tokens" if finish == "length" else "end_turn"
        if not stream:
            content = []
            if reasoning:
                content.append({"type": "thinking", "thinking": reasoning})
            content.append({"type": "text", "text": text})
            obj = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                   "content": content, "stop_reason": stop}
            if usage:
                obj["usage"] = {"input_tokens": PROMPT_TOKENS,
                                "output_tokens": COMPLETION_TOKENS}
            self.send_json(200, obj)
            return
        self.start_stream()
        start = {"type": "message_start",
                 "message": {"id": "msg_fake", "type": "message", "role": "assistant",
                             "model": model, "content": [],
                             "usage": {"input_tokens": PROMPT_TOKENS if usage else 0,
                                       "output_tokens": 1}}}
        self.event(start, "message_start")
        if reasoning:
            self.event({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "thinking_delta", "thinking": reasoning}},
                       "content_block_delta")
        self.event({"type": "content_block_start", "index": 1,
                    "content_block": {"type": "text", "text": ""}}, "content_block_start")
        parts = chunks(text)
        if kind in ("truncate", "resetmid"):
            parts = parts[: max(1, len(parts) // 2)]
        for piece in parts:
            self.event({"type": "content_block_delta", "index": 1,
                        "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
        if kind == "truncate":
            return
        if kind == "resetmid":
            self.reset()
            return
        self.event({"type": "content_block_stop", "index": 1}, "content_block_stop")
        delta = {"type": "message_delta", "delta": {"stop_reason": stop}}
        if usage:
            delta["usage"] = {"output_tokens": COMPLETION_TOKENS}
        self.event(delta, "message_delta")
        self.event({"type": "message_stop"}, "message_stop")


def watch_parent(ppid):
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            os._exit(0)


def main():
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--answers" and args:
            ANSWER_DIRS.append(args.pop(0))
        else:
            sys.stderr.write("usage: server.py [--answers DIR]...\n")
            sys.exit(2)
    here = os.path.dirname(os.path.abspath(__file__))
    ANSWER_DIRS.append(os.path.join(here, "responses"))
    ANSWER_DIRS.append(os.path.join(here, "..", "fixtures", "answers"))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
