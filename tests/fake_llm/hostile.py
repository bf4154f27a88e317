#!/usr/bin/env python3
"""A hostile LLM server for gevo's tests: an OpenAI-compatible chat
completions endpoint (streamed and not) that lies, leaks and shouts.

    python3 tests/fake_llm/hostile.py [--answers DIR]...  listen; print the port
    python3 tests/fake_llm/hostile.py --closed-port       print a port nobody listens on

It listens on 127.0.0.1, port 0, prints the chosen port as its first line
and exits when its parent process goes away. Answer files are looked up
as in server.py (--answers folders, then tests/fake_llm/responses and
tests/fixtures/answers; .txt or .md may be left out).

What a request gets is scripted by its model name, as in server.py: the
part after the first '/' is a list of steps separated by ','; request k of
that model uses step k, the last step repeats. Steps:

    ok[:NAME]          a plain, honest answer (the text of NAME)
    esc[:NAME]         the answer with escape sequences in every field the
                       client reads or shows: the prose before the code, the
                       reasoning, the served `model`, `id` and the
                       finish_reason neighbourhood (CSI 2J, OSC 52 clipboard
                       write, OSC 8 link, C1 CSI U+009B, bidi override
                       U+202E, BEL, backspace)
    usage=KIND[:NAME]  the answer with lying usage numbers; KIND is one of
                       neg (-5000 both), max (INT64_MAX both), missing (no
                       usage object), zero (0 both), str (strings), float
                       (1e300)
    echo[:NAME]        the answer with the request's Authorization and
                       x-api-key headers copied into the prose, the
                       reasoning and the served `model`
    401 | 403          that status, the error message full of escapes (and
                       the Authorization header echoed in it)
    429[:SECONDS]      rate limited, with Retry-After: SECONDS when given
    NNN[:SECONDS]      any other status (e.g. 503), Retry-After as for 429

Escapes are the same bytes in every place, so a test can look for ESC
(0x1b), U+009B and U+202E in what gevo printed or stored.

GET /stats returns {"requests": {model: count}, "total": all requests,
"last_headers": {...}} (tests count what reached the server).
"""
import json
import os
import socket
import sys
import threading
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server as base  # noqa: E402  (answers, JSON replies, events, parent watch)

LOCK = threading.Lock()
COUNTS = {}
STATE = {"total": 0, "last_headers": {}}
INT64_MAX = 9223372036854775807
# CSI clear screen, OSC 52 clipboard write, OSC 8 hyperlink, C1 CSI,
# right-to-left override, BEL, backspace
EVIL = ("\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b]8;;http://evil.example/\x1b\\link"
        "\x1b]8;;\x1b\\\u009b31m\u202eevil\u202c\x07\x08")


class Handler(base.Handler):
    def do_GET(self):
        if self.path.startswith("/stats"):
            with LOCK:
                self.send_json(200, {"requests": COUNTS, "total": STATE["total"],
                                     "last_headers": STATE["last_headers"]})
        else:
            self.send_json(404, {"error": {"message": "no such page"}})

    def secrets(self):
        return " ".join(v for v in (self.headers.get("Authorization"),
                                    self.headers.get("x-api-key")) if v)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n))
        except ValueError:
            self.send_json(400, {"error": {"message": "request is not JSON"}})
            return
        model = str(req.get("model", ""))
        script = model.split("/", 1)[1] if "/" in model else model
        steps = script.split(",")
        with LOCK:
            k = COUNTS.get(model, 0)
            COUNTS[model] = k + 1
            STATE["total"] += 1
            STATE["last_headers"] = {h.lower(): v for h, v in self.headers.items()}
        self.serve_step(steps[min(k, len(steps) - 1)], req)

    def serve_step(self, step, req):
        kind, _, arg = step.partition(":")
        if kind.isdigit():
            extra = {"Retry-After": arg} if arg else {}
            msg = "fake failure %s" % kind
            if kind in ("401", "403"):
                msg = "invalid key %s %s" % (self.secrets(), EVIL)
            self.send_json(int(kind), {"error": {"message": msg, "type": "hostile"}}, extra)
            return
        text = base.load_answer(arg)
        served, reasoning, usage = "hostile-model", "", {"prompt_tokens": 1000,
                                                          "completion_tokens": 500}
        rid = "hostile-1"
        if kind == "esc":
            text = "Some prose " + EVIL + " before the code.\n\n" + text
            reasoning = "Thinking " + EVIL
            served = "model" + EVIL
            rid = "id" + EVIL
        elif kind == "echo":
            leak = self.secrets()
            text = "Your key is " + leak + "\n\n" + text
            reasoning = "I saw " + leak
            served = "model-" + leak
        elif kind.startswith("usage="):
            how = kind[6:]
            usage = {"neg": {"prompt_tokens": -5000, "completion_tokens": -5000},
                     "max": {"prompt_tokens": INT64_MAX, "completion_tokens": INT64_MAX},
                     "missing": None,
                     "zero": {"prompt_tokens": 0, "completion_tokens": 0},
                     "str": {"prompt_tokens": "1000", "completion_tokens": "lots"},
                     "float": {"prompt_tokens": 1e300, "completion_tokens": 1e300}}.get(how)
        elif kind != "ok":
            self.send_json(400, {"error": {"message": "hostile server: unknown step " + step}})
            return
        if not req.get("stream"):
            msg = {"role": "assistant", "content": text}
            if reasoning:
                msg["reasoning_content"] = reasoning
            obj = {"id": rid, "object": "chat.completion", "model": served,
                   "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}]}
            if usage is not None:
                obj["usage"] = usage
            self.send_json(200, obj)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        head = {"id": rid, "object": "chat.completion.chunk", "model": served}
        if reasoning:
            self.event(dict(head, choices=[{"index": 0, "delta": {"reasoning_content": reasoning},
                                            "finish_reason": None}]))
        for i in range(0, len(text), 40):
            self.event(dict(head, choices=[{"index": 0, "delta": {"content": text[i:i + 40]},
                                            "finish_reason": None}]))
        self.event(dict(head, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if usage is not None:
            self.event(dict(head, choices=[], usage=usage))
        self.event("[DONE]")


def main():
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--answers" and args:
            base.ANSWER_DIRS.append(args.pop(0))
        elif a == "--closed-port":
            # a port that was free a moment ago: connecting to it is refused
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1], flush=True)
            s.close()
            return
        else:
            sys.stderr.write("usage: hostile.py [--answers DIR]... | --closed-port\n")
            sys.exit(2)
    here = os.path.dirname(os.path.abspath(__file__))
    base.ANSWER_DIRS.append(os.path.join(here, "responses"))
    base.ANSWER_DIRS.append(os.path.join(here, "..", "fixtures", "answers"))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=base.watch_parent, args=(os.getppid(),), daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
