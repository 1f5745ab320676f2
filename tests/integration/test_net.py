#!/usr/bin/env python3
"""Networking through libslirp: the guest fetches a page from an HTTP
server on the host's loopback (outbound, via 10.0.2.2), and the host
fetches the guest's httpd page through a hostfwd port (inbound)."""
import http.server
import threading
import time
import urllib.request

from guestlib import Guest, boot_args, check, free_port, main

PAGE = b"hello guest, this is the host\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


def fetch(url, tries=30):
    last = None
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.read().decode()
        except OSError as e:
            last = e
            time.sleep(1)
    raise AssertionError(f"{url}: {last}")


def test():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host_port = server.server_address[1]
    fwd_port = free_port()
    g = Guest(boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{fwd_port}-:80"))
    try:
        g.wait_ready()
        out, rc = g.run("ip -4 addr show eth0")
        check("10.0.2.15" in out, f"no DHCP address: {out!r}")
        out, rc = g.run(f"wget -q -O - http://10.0.2.2:{host_port}/page")
        check(rc == 0 and PAGE.decode().strip() in out, f"outbound wget: rc={rc} {out!r}")
        try:
            page = fetch(f"http://127.0.0.1:{fwd_port}/")
        except AssertionError as e:
            check(False, f"inbound fetch: {e}")
        check("keel" in page, f"inbound page: {page!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, "poweroff")
    finally:
        g.kill()
        server.shutdown()


if __name__ == "__main__":
    main(test)
