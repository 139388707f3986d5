#!/usr/bin/env python3
"""Drives a running wasmhost the way Python programs do, for clients_test.go.

Each subcommand prints one JSON object with what it saw; the Go test makes
the assertions, so a failure shows there with the figures. Python's
http.client and requests send a whole request body before they read the
response, unlike Go's client, which reads and writes at once.

    clients.py keepalive BASE N        N POSTs on one http.client connection and
                                       N PUTs through one requests.Session, with
                                       bodies the handler never reads
    clients.py echo BASE MIB           MIB MiB posted to BASE/echo by both clients
    clients.py chunked BASE MIB        a chunked body of MIB MiB by both clients
    clients.py http BASE STATIC        HEAD, 304 and 206 by both clients
    clients.py nobody HOSTPORT PATH    promise a 100-byte body and send nothing
    clients.py noread HOSTPORT PATH    ask for a response and never read it
"""
import hashlib
import http.client
import json
import socket
import sys
import time
import urllib.parse

import requests


def out(**kw):
    print(json.dumps(kw), flush=True)


def hostport(base):
    u = urllib.parse.urlsplit(base)
    return u.hostname, u.port


def keepalive(base, n):
    host, port = hostport(base)
    body = json.dumps({"name": "x" * 200, "items": list(range(100))}).encode()
    failures, statuses = [], {}
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for i in range(n):
        try:
            conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
        except Exception as e:  # the failure the issue saw: BrokenPipe, ConnectionReset
            failures.append("http.client #%d: %r" % (i, e))
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.close()
    with requests.Session() as s:
        for i in range(n):
            try:
                r = s.put(base + "/", json={"i": i, "pad": "y" * 300}, timeout=30)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            except Exception as e:
                failures.append("requests #%d: %r" % (i, e))
    out(failures=failures, statuses={str(k): v for k, v in statuses.items()})


def pattern(size):
    block = hashlib.sha256(b"wasmhost").digest() * 2048  # 64 KiB
    reps = size // len(block) + 1
    return (block * reps)[:size]


def echo(base, mib):
    host, port = hostport(base)
    data = pattern(mib << 20)
    want = hashlib.sha256(data).hexdigest()
    res = {}
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("POST", "/echo", body=data, headers={"Content-Type": "application/octet-stream"})
    resp = conn.getresponse()
    got = resp.read()
    conn.close()
    res["http.client"] = {"status": resp.status, "size": len(got), "same": hashlib.sha256(got).hexdigest() == want,
                          "seconds": round(time.monotonic() - t0, 3)}
    t0 = time.monotonic()
    r = requests.post(base + "/echo", data=data, timeout=60)
    res["requests"] = {"status": r.status_code, "size": len(r.content),
                       "same": hashlib.sha256(r.content).hexdigest() == want,
                       "seconds": round(time.monotonic() - t0, 3)}
    out(**res)


def chunked(base, mib):
    host, port = hostport(base)
    data = pattern(mib << 20)

    def pieces():
        for i in range(0, len(data), 64 << 10):
            yield data[i:i + (64 << 10)]

    res = {}
    try:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request("POST", "/", body=pieces(), encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
        res["http.client"] = resp.status
        conn.close()
    except Exception as e:
        res["http.client"] = repr(e)
    try:
        r = requests.post(base + "/", data=pieces(), timeout=60)  # a generator: chunked
        res["requests"] = r.status_code
    except Exception as e:
        res["requests"] = repr(e)
    out(**res)


def http_semantics(base, static):
    host, port = hostport(base)
    res = {}
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("HEAD", "/")
    r = conn.getresponse()
    res["head_status"], res["head_body"], res["head_length"] = r.status, len(r.read()), r.getheader("Content-Length")
    conn.request("GET", static)
    r = conn.getresponse()
    full = r.read()
    etag = r.getheader("ETag")
    conn.request("GET", static, headers={"If-None-Match": etag})
    r = conn.getresponse()
    res["etag_status"], res["etag_body"] = r.status, len(r.read())
    conn.request("GET", static, headers={"Range": "bytes=2-5"})
    r = conn.getresponse()
    part = r.read()
    res["range_status"], res["range_ok"] = r.status, part == full[2:6]
    res["content_range"] = r.getheader("Content-Range")
    conn.close()
    with requests.Session() as s:
        h = s.head(base + "/", timeout=30)
        res["req_head_status"] = h.status_code
        g = s.get(base + static, timeout=30)
        n = s.get(base + static, headers={"If-None-Match": g.headers["ETag"]}, timeout=30)
        res["req_etag_status"] = n.status_code
        p = s.get(base + static, headers={"Range": "bytes=0-3"}, timeout=30)
        res["req_range_status"], res["req_range_ok"] = p.status_code, p.content == g.content[:4]
    out(**res)


def nobody(hp, path):
    host, port = hp.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" % path).encode())
    out(sent=True)
    t0 = time.monotonic()
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
    except Exception as e:
        data += repr(e).encode()
    s.close()
    out(answer=data.split(b"\r\n", 1)[0].decode(errors="replace"), seconds=round(time.monotonic() - t0, 3))


def noread(hp, path):
    host, port = hp.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    out(sent=True)
    time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 5)  # never read
    s.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "keepalive":
        keepalive(args[0], int(args[1]))
    elif cmd == "echo":
        echo(args[0], int(args[1]))
    elif cmd == "chunked":
        chunked(args[0], int(args[1]))
    elif cmd == "http":
        http_semantics(args[0], args[1])
    elif cmd == "nobody":
        nobody(args[0], args[1])
    elif cmd == "noread":
        noread(args[0], args[1])
    else:
        sys.exit("unknown command " + cmd)
