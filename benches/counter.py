"""A stand-in service for benches/batch-signals.sh: counts the SIGHUPs it receives and
the reload calls (POST) made to it; GET answers "<sighups> <posts>".
    python3 benches/counter.py PIDFILE PORTFILE"""
import http.server
import os
import signal
import sys
import threading

count = {"hup": 0, "post": 0}
lock = threading.Lock()
r, w = os.pipe()
os.set_blocking(w, False)
signal.signal(signal.SIGHUP, lambda *_: None)
# One byte per delivered signal, written by the C-level handler: none are merged here.
signal.set_wakeup_fd(w, warn_on_full_buffer=False)


def drain():
    while True:
        n = len(os.read(r, 4096))
        with lock:
            count["hup"] += n


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        with lock:
            count["post"] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            body = f"{count['hup']} {count['post']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threading.Thread(target=drain, daemon=True).start()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()}\n")
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
