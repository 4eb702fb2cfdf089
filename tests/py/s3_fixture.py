"""s3_fixture.py - a real S3 API server (moto) on loopback, behind a fault-injecting HTTP proxy."""
import http.client
import http.server
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ACCESS_KEY = "AKIATESTRASTER2H3XYZ"
SECRET_KEY = "s3cr3t-raster2h3-never-log-this"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Faults:
    """Rules the proxy applies: each is [method, path substring, status or 'drop', remaining,
    matching requests still let through first (after=)]."""

    def __init__(self):
        self.rules = []
        self.lock = threading.Lock()
        self.log = []

    def add(self, method, substring, action, times=10**9, after=0):
        with self.lock:
            self.rules.append([method, substring, action, times, after])

    def clear(self):
        with self.lock:
            self.rules.clear()

    def match(self, method, path):
        with self.lock:
            self.log.append((method, path))
            for r in self.rules:
                if r[0] in (method, "*") and r[1] in path and r[3] > 0:
                    if r[4] > 0:
                        r[4] -= 1
                        continue
                    r[3] -= 1
                    return r[2]
        return None


def make_proxy(upstream_port, faults):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            action = faults.match(self.command, self.path)
            if action == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if isinstance(action, int):
                code = {403: "AccessDenied", 503: "SlowDown", 500: "InternalError",
                        404: "NoSuchKey"}.get(action, "InternalError")
                msg = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                       f"<Message>injected {action}</Message><RequestId>r2h</RequestId></Error>"
                       ).encode()
                self.send_response(action)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items()}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)


class S3Server:
    def __init__(self, tmp):
        self.port = free_port()
        moto = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=(Path(tmp) / "moto.log").open("w"),
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        self.faults = Faults()
        self.proxy = make_proxy(self.port, self.faults)
        self.proxy_thread = threading.Thread(target=self.proxy.serve_forever, daemon=True)
        self.proxy_thread.start()
        import boto3
        self.client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.port}",
                                   aws_access_key_id=ACCESS_KEY,
                                   aws_secret_access_key=SECRET_KEY, region_name="us-east-1")

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.proxy.server_address[1]}"

    def env(self, **extra):
        env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_S3_ENDPOINT": self.endpoint, "AWS_HTTPS": "NO",
               "AWS_VIRTUAL_HOSTING": "FALSE", "AWS_REGION": "us-east-1",
               "GDAL_HTTP_MAX_RETRY": "3", "GDAL_HTTP_RETRY_DELAY": "0.1",
               "CPL_VSIL_CURL_NON_CACHED": "/vsis3/", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
        env.update(extra)
        return env

    def keys(self, bucket, prefix=""):
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                          Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)

    def stop_proxy(self):
        self.proxy.shutdown()
        self.proxy.server_close()

    def close(self):
        try:
            self.stop_proxy()
        except Exception:
            pass
        self.proc.terminate()
        self.proc.wait(timeout=10)
