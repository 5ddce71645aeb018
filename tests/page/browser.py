#!/usr/bin/env python3
"""The tree's page in a real Chromium (docs/page.md), driven through
chromedriver (W3C WebDriver over HTTP, Python's standard library only).

Starts ledd (simulated strip) and webd with [page] on, on loopback, then:

  1. cold load at 390x844 (phone): zero console errors, zero CSP violations,
     every request answered; bytes transferred and timings from the
     Navigation and Resource Timing APIs;
  2. pairing by opening the link `webd pair` printed; the code is gone from
     the address bar afterwards;
  3. picking an animation and a timed play: ledd plays it (ledctl status);
     a screenshot at phone size into docs/page.png;
  4. a page on another origin (served by this test) trying to play, with a
     fetch and with a plain form: ledd does not change;
  5. `webd revoke`: the page says it is not paired, and a play is refused.

Usage: tests/page/browser.py BIN_DIR [--screenshot FILE]
Exit status 0 when every check passed, 1 when one failed, 2 on a setup
error (chromium, chromedriver or a binary missing). Runs as root or as an
ordinary user; loopback only, about 20 s.
"""

import base64
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
PAGE_BUDGET_BYTES = 50 * 1024


def die(msg, code=1):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(code)


def ok(msg):
    print(f"ok: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout=10.0, step=0.1):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(step)
    die(f"timed out waiting for {what} (last: {last!r})")


class Driver:
    """A W3C WebDriver session on chromedriver."""

    def __init__(self, port, chrome_args, mobile):
        self.base = f"http://127.0.0.1:{port}"
        caps = {
            "browserName": "chrome",
            "acceptInsecureCerts": True,
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": shutil.which("chromium"),
                "args": chrome_args,
                "mobileEmulation": mobile,
            },
        }
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        self.sid = value["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            die(f"webdriver {method} {path}: {e.read().decode(errors='replace')}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.s("POST", "/execute/async", {"script": script, "args": list(args)})

    def click(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        self.s("POST", f"/element/{el[ELEMENT]}/click", {})

    def console(self):
        return self.s("POST", "/se/log", {"type": "browser"})

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def quit(self):
        try:
            self.s("DELETE", "")
        except SystemExit:
            pass


class Tree:
    """ledd and webd with the page on, in a temporary directory."""

    def __init__(self, bin_dir, port):
        self.bin = bin_dir
        self.port = port
        self.tmp = tempfile.mkdtemp(prefix="tinsel-page.")
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.sock = os.path.join(self.tmp, "ledd.sock")
        root = os.geteuid() == 0
        users = ""
        access = ""
        if root:
            group = "nogroup" if "nogroup:" in open("/etc/group").read() else "nobody"
            users = f'user = "nobody"\ngroup = "{group}"\n'
            access = '[access]\nhooks_users = ["nobody"]\n'
        self.run([self.webd, "cert", "self-signed", "--out", f"{self.tmp}/tls", "--name", "localhost"])
        with open(f"{self.tmp}/ledd.toml", "w") as f:
            f.write(
                f'socket = "{self.sock}"\nsocket_mode = "0666"\n[strip]\nbackend = "sim"\ncount = 50\n{access}'
            )
        self.config = f"{self.tmp}/webd.toml"
        with open(self.config, "w") as f:
            f.write(
                f'listen = "127.0.0.1:{port}"\nledd_socket = "{self.sock}"\n{users}\n'
                f'[tls]\ncert = "{self.tmp}/tls/fullchain.pem"\nkey = "{self.tmp}/tls/privkey.pem"\n'
                f'[ban]\nmax_failures = 20\n'
                f'[page]\nenabled = true\ndevices_dir = "{self.tmp}/devices"\n'
            )
        self.start("ledd", [self.ledd, "--config", f"{self.tmp}/ledd.toml"])
        wait_for("ledd", lambda: self.status() is not None)
        self.webd_log = self.start("webd", [self.webd, "--config", self.config])
        wait_for("webd", lambda: "webd ready" in open(self.webd_log).read())

    @property
    def webd(self):
        return os.path.join(self.bin, "webd")

    @property
    def ledd(self):
        return os.path.join(self.bin, "ledd")

    def run(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            die(f"{' '.join(argv)}: {r.stderr}")
        return r.stdout

    def start(self, name, argv):
        log = os.path.join(self.tmp, f"{name}.log")
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(log, "w")))
        return log

    def status(self):
        r = subprocess.run(
            [os.path.join(self.bin, "ledctl"), "--socket", self.sock, "status", "--json"],
            capture_output=True,
            text=True,
        )
        return json.loads(r.stdout) if r.returncode == 0 else None

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


ATTACK_PAGE = """<!doctype html><meta charset=utf-8><title>not the tree</title>
<form id=f method=post action="{target}/page/play" enctype="text/plain">
<input name='{{"animation":"fire","x":"' value='"}}'></form>
<script>
fetch("{target}/page/play", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: '{{"animation":"fire"}}'}})
  .finally(() => document.getElementById("f").submit());
</script>"""


def serve_attack(port, target):
    body = ATTACK_PAGE.format(target=target).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(64)
    bin_dir = os.path.abspath(args[0])
    shot = None
    if "--screenshot" in args:
        shot = args[args.index("--screenshot") + 1]
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            die(f"{tool} is not installed: apt-get install -y chromium chromium-driver", 2)
    for b in ("ledd", "ledctl", "webd"):
        if not os.access(os.path.join(bin_dir, b), os.X_OK):
            die(f"{bin_dir}/{b} was not built", 2)

    port = free_port()
    tree = Tree(bin_dir, port)
    origin = f"https://localhost:{port}"
    driver_port = free_port()
    profile = tempfile.mkdtemp(prefix="tinsel-chromium.")
    driver_proc = subprocess.Popen(
        ["chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    attack = None
    d = None
    try:
        wait_for("chromedriver", lambda: _up(driver_port))
        chrome_args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            # The test's self-signed certificate. No WebAuthn is involved
            # yet (passkeys will need the CA trusted through an NSS db).
            "--ignore-certificate-errors",
            f"--user-data-dir={profile}",
        ]
        mobile = {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2, "touch": True}}
        d = Driver(driver_port, chrome_args, mobile)
        figures = {}

        # 1. Cold load.
        d.go(origin + "/")
        wait_for("the page to ask about pairing", lambda: d.js("return document.getElementById('now').textContent") == "Not paired")
        size = d.js("return [innerWidth, innerHeight]")
        if size != [390, 844]:
            die(f"viewport is {size}, not 390x844")
        perf = d.js(
            """
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource');
            const fcp = performance.getEntriesByName('first-contentful-paint')[0];
            return {
              requests: 1 + res.length,
              transferred: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
              decoded: nav.decodedBodySize + res.reduce((a, r) => a + r.decodedBodySize, 0),
              statuses: [nav.responseStatus].concat(res.map(r => r.responseStatus)),
              names: res.map(r => r.name.replace(location.origin, '')),
              ttfb_ms: nav.responseStart - nav.startTime,
              fcp_ms: fcp ? fcp.startTime : null,
              interactive_ms: nav.domInteractive - nav.startTime,
              dcl_ms: nav.domContentLoadedEventEnd - nav.startTime,
              load_ms: nav.loadEventEnd - nav.startTime,
            };"""
        )
        figures["cold_load"] = perf
        logs = d.console()
        errors = [l for l in logs if l.get("level") == "SEVERE"]
        if errors:
            die(f"console errors on a cold load: {errors}")
        csp = [l for l in logs if "Content Security Policy" in l.get("message", "")]
        if csp:
            die(f"CSP violations on a cold load: {csp}")
        if any(s != 200 for s in perf["statuses"]):
            die(f"a request was not answered 200: {perf['statuses']} {perf['names']}")
        if perf["transferred"] > PAGE_BUDGET_BYTES:
            die(f"cold load transferred {perf['transferred']} bytes, over {PAGE_BUDGET_BYTES}")
        ok(
            f"cold load at 390x844: {perf['requests']} requests, {perf['transferred']} bytes transferred "
            f"({perf['decoded']} decoded), no console error, no CSP violation; "
            f"first byte {perf['ttfb_ms']:.0f} ms, first paint {perf['fcp_ms'] or 0:.0f} ms, "
            f"interactive {perf['interactive_ms']:.0f} ms, load {perf['load_ms']:.0f} ms"
        )
        # The same cold load again (reload): every request still answered.
        d.go(origin + "/")
        wait_for("the reload", lambda: d.js("return document.getElementById('now').textContent") == "Not paired")
        statuses = d.js(
            "return [performance.getEntriesByType('navigation')[0].responseStatus]"
            ".concat(performance.getEntriesByType('resource').map(r => r.responseStatus))"
        )
        if any(s != 200 for s in statuses):
            die(f"a request of the reload was not answered: {statuses}")
        ok(f"reload: {len(statuses)} requests, all answered 200")

        # 2. Pairing through the printed link.
        out = tree.run([tree.webd, "pair", "--config", tree.config, "--url", origin, "--name", "Test phone"])
        link = [l for l in out.splitlines() if l.startswith("https://")][0]
        if "#" not in link or "/pair#" not in link:
            die(f"the link does not carry the code in its fragment: {link}")
        if "█" not in out and "▀" not in out and "▄" not in out:
            die("webd pair printed no QR code")
        d.go(link)
        wait_for("pairing", lambda: d.js("return document.getElementById('who').textContent") == "This device: Test phone")
        shown = d.js("return location.href")
        if "#" in shown or "/pair" in shown:
            die(f"the code is still in the address bar: {shown}")
        history_len = d.js("return history.length")
        ok(f"paired by opening the link; the address bar shows {shown} (history length {history_len})")
        devices = tree.run([tree.webd, "devices", "--config", tree.config])
        if "Test phone" not in devices:
            die(f"webd devices does not list the phone: {devices}")

        # 3. Pick an animation and a timed play; ledd plays it.
        d.click('button[data-name="rainbow"]')
        d.js("document.getElementById('minutes').value = '10'")
        d.click("#play")
        st = wait_for(
            "ledd to play rainbow",
            lambda: (lambda s: s if s and s.get("playing") and s["playing"]["animation"] == "rainbow" else None)(tree.status()),
        )
        remaining = st["playing"].get("remaining_secs")
        if remaining is None or not (500 < remaining <= 600):
            die(f"not a 10-minute play: {st['playing']}")
        wait_for("the page to show it", lambda: "Rainbow" in d.js("return document.getElementById('now').textContent"))
        ok(f"picked rainbow for 10 minutes: ledd plays it ({remaining} s left), the page shows it")
        if shot:
            d.js("window.scrollTo(0, 0)")
            n = d.screenshot(shot)
            ok(f"screenshot at phone size: {shot} ({n} bytes)")

        # 4. Another origin tries to play (fetch and form).
        attack_port = free_port()
        attack = serve_attack(attack_port, origin)
        d.go(f"http://127.0.0.1:{attack_port}/")
        time.sleep(2)
        st = tree.status()
        if st["playing"]["animation"] != "rainbow":
            die(f"a page on another origin changed the tree: {st['playing']}")
        log = open(tree.webd_log).read()
        refused = log.count('result="cross_origin"')
        if refused < 2:
            die(f"webd did not refuse both of the other origin requests as cross_origin ({refused}):\n{log[-3000:]}")
        ok(f"a page on another origin (fetch + plain form) reached webd and was refused {refused} times: ledd still plays rainbow")
        d.console()  # the attack page's own errors are not the tree's

        # 5. Revocation takes effect at once.
        d.go(origin + "/")
        wait_for("the page", lambda: d.js("return document.getElementById('who').textContent") == "This device: Test phone")
        tree.run([tree.webd, "revoke", "--config", tree.config, "Test phone"])
        wait_for("the page to notice", lambda: d.js("return document.getElementById('unpaired').hidden") is False)
        answer = d.js_async(
            """const done = arguments[arguments.length - 1];
            fetch('/page/play', {method: 'POST', headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({animation: 'fire'})}).then(r => done(r.status), () => done(0));"""
        )
        if answer != 401:
            die(f"a revoked device's play got {answer}, not 401")
        if tree.status()["playing"]["animation"] != "rainbow":
            die("a revoked device changed the tree")
        ok("revoked: the page says it is not paired, a play gets 401")
        print("FIGURES " + json.dumps(figures))
        print("PASS: the page in Chromium: cold load, pairing, play, cross-origin refusal, revocation")
    finally:
        if d:
            d.quit()
        if attack:
            attack.shutdown()
        driver_proc.terminate()
        try:
            driver_proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            driver_proc.kill()
        tree.stop()
        shutil.rmtree(profile, ignore_errors=True)


def _up(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1) as r:
            return json.load(r)["value"]["ready"]
    except OSError:
        return False


if __name__ == "__main__":
    main()
