#!/usr/bin/env python3
"""Ordinary and slow clients for slowclients_test.go; each subcommand prints
one JSON object and the Go test makes the assertions.

    slow.py probe URL SECONDS RATE    POST b"ping" to URL RATE times a second
                                      for SECONDS, each on a new http.client
                                      connection with a 3 s timeout; counts
                                      the 200s within 3 s (that echo "ping",
                                      for a URL ending in /echo)
    slow.py trickle HOSTPORT PATH LENGTH FIRST
                                      promise a LENGTH-byte body, send FIRST
                                      bytes at once, then one byte a second,
                                      until the server answers (or 30 s)
"""
import http.client
import json
import socket
import sys
import time
import urllib.parse


def out(**kw):
    print(json.dumps(kw), flush=True)


def probe(url, seconds, rate):
    u = urllib.parse.urlsplit(url)
    total, ok, statuses, errors, slowest = 0, 0, {}, [], 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        total += 1
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=3)
            conn.request("POST", (u.path or "/") + ("?" + u.query if u.query else ""), body=b"ping", headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            took = time.monotonic() - t0
            statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            echoed = body == b"ping" or not u.path.endswith("/echo")
            if resp.status == 200 and echoed and took <= 3:
                ok += 1
            slowest = max(slowest, took)
        except Exception as e:
            if len(errors) < 5:
                errors.append(repr(e))
            slowest = max(slowest, time.monotonic() - t0)
        time.sleep(max(0, 1.0 / rate - (time.monotonic() - t0)))
    out(total=total, ok=ok, statuses=statuses, errors=errors, slowest=round(slowest, 3))


def trickle(hostport, path, length, first):
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
               "Content-Length: %d\r\n\r\n" % (path, hostport, length)).encode())
    t0 = time.monotonic()
    sent = first
    s.sendall(b"x" * first)
    s.settimeout(1)
    data = b""
    while time.monotonic() - t0 < 30:
        try:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
        except socket.timeout:
            try:
                if sent < length:
                    s.sendall(b"x")
                    sent += 1
            except OSError:
                break
        except OSError:
            break
    after = time.monotonic() - t0
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    out(status=status, after=round(after, 3), sent=sent, head=data.split(b"\r\n\r\n")[0].decode(errors="replace"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "probe":
        probe(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "trickle":
        trickle(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("unknown command " + cmd)
