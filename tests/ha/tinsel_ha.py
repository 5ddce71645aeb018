"""The parts of a real Home Assistant set-up on loopback, for tests/ha/run
and bench/ha-latency: a Mosquitto broker, ledd on the simulated strip (with
the packaged ledd.toml's settings), mqttd, webd, and Home Assistant Core from
the venv scripts/ha-venv builds, plus a small REST client for Home Assistant.

Everything listens on 127.0.0.1 on free ports, lives in one temporary
directory, and is stopped (and the directory removed) by Stack.close(), which
the callers run in a `finally`. Every wait has a deadline.

Runs as root (ledd keeps root; mqttd and webd drop to nobody, as in the
end-to-end tests) and as an ordinary user. Standard library only (it runs in
Home Assistant's venv, whose aiohttp the benchmark also uses).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MQTT_USER = "tree"
MQTT_PASSWORD = "correct horse battery staple"
HA_USER = "tinsel"
HA_PASSWORD = "tinsel-test-password"
# mqttd's `name`; the light is light.<slug>, its topics tinsel/<slug>/...
TREE_NAME = "HA tree"
NODE = "ha_tree"


class Failure(Exception):
    """A check failed: the message says what was expected and what was seen."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, timeout, probe, interval=0.05):
    """Calls probe() until it returns something truthy; Failure after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            got = probe()
        except (OSError, ValueError, KeyError) as e:
            got, last = None, e
        if got:
            return got
        if time.monotonic() > deadline:
            extra = f" (last error: {last})" if last else ""
            raise Failure(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(interval)


def is_root():
    return os.geteuid() == 0


def nogroup():
    groups = Path("/etc/group").read_text()
    return "nogroup" if re.search(r"^nogroup:", groups, re.M) else "nobody"


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def toml_dump(doc):
    """TOML for a dict of scalars, lists and one level of tables."""
    lines = [f"{k} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"\n[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def mosquitto_binary():
    for c in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(c).is_file():
            return c
    found = shutil.which("mosquitto")
    if not found:
        raise Failure(
            "the Home Assistant test needs the Mosquitto broker: apt-get install mosquitto "
            "(and systemctl disable --now mosquitto)"
        )
    return found


class Proc:
    """A daemon of the stack, its stderr in DIR/NAME.log."""

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.argv = argv
        self.log_path = Path(logdir) / f"{name}.log"
        self.env = env
        self.popen = None
        self.start()

    def start(self):
        with open(self.log_path, "ab") as err:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=self.env,
            )

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout=15):
        if not self.running():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def pid(self):
        return self.popen.pid


class HomeAssistant:
    """Home Assistant's REST API with the test user's access token."""

    def __init__(self, port):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.client_id = self.base + "/"
        self.token = None

    def request(self, method, path, body=None, form=None, timeout=20):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                return e.code, json.loads(text)
            except json.JSONDecodeError:
                return e.code, text

    def ok(self, method, path, body=None, form=None):
        status, answer = self.request(method, path, body=body, form=form)
        if status >= 300:
            raise Failure(f"Home Assistant {method} {path} {body or form}: {status} {answer}")
        return answer

    def onboard(self):
        """Creates the owner over the onboarding API and logs in (the
        core_config step is skipped: it sets up integrations that want the
        internet)."""
        answer = self.ok(
            "POST",
            "/api/onboarding/users",
            {
                "name": "Tinsel Test",
                "username": HA_USER,
                "password": HA_PASSWORD,
                "client_id": self.client_id,
                "language": "en",
            },
        )
        tokens = self.ok(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": answer["auth_code"],
                "client_id": self.client_id,
            },
        )
        self.token = tokens["access_token"]

    def add_mqtt(self, port):
        flow = self.ok("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        result = self.ok(
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            {
                "broker": "127.0.0.1",
                "port": port,
                "username": MQTT_USER,
                "password": MQTT_PASSWORD,
            },
        )
        if result.get("type") != "create_entry":
            raise Failure(f"the MQTT config flow did not create an entry: {result}")

    def ws(self, *commands):
        """Sends websocket commands ({"type": ...}, ids added) and returns
        their results, in order."""
        import asyncio

        import aiohttp

        async def go():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(self.base + "/api/websocket", timeout=10) as ws:
                    await ws.receive_json(timeout=10)  # auth_required
                    await ws.send_json({"type": "auth", "access_token": self.token})
                    ok = await ws.receive_json(timeout=10)
                    if ok.get("type") != "auth_ok":
                        raise Failure(f"websocket auth: {ok}")
                    results = []
                    for i, cmd in enumerate(commands, 1):
                        await ws.send_json({"id": i, **cmd})
                        while True:
                            msg = await ws.receive_json(timeout=10)
                            if msg.get("id") == i and msg.get("type") == "result":
                                break
                        if not msg.get("success"):
                            raise Failure(f"websocket {cmd}: {msg}")
                        results.append(msg.get("result"))
                    return results

        return asyncio.run(go())

    def notifications(self):
        """The persistent notifications: {notification_id: {...}}."""
        (result,) = self.ws({"type": "persistent_notification/get"})
        return {n["notification_id"]: n for n in result}

    def state(self, entity_id):
        status, answer = self.request("GET", f"/api/states/{entity_id}")
        return answer if status == 200 else None

    def call(self, domain, service, **data):
        """A service call; (HTTP status, answer). HA answers 200 with the
        changed states, 400/500 when the action failed."""
        return self.request("POST", f"/api/services/{domain}/{service}", data)


class Stack:
    """The whole set-up in one temporary directory."""

    def __init__(self, bin_dir, venv, strip_type=None):
        self.bin_dir = Path(bin_dir)
        self.venv = Path(venv)
        self.strip_type = strip_type
        self.dir = Path(tempfile.mkdtemp(prefix="tinsel-ha-"))
        # Other uids (mosquitto, mqttd and webd after their drop) read here.
        os.chmod(self.dir, 0o755)
        self.procs = {}
        self.ha = None
        self.webd_port = None
        self.webd_token = None
        self.webd_cert = None

    def bin(self, name):
        return str(self.bin_dir / name)

    def path(self, name):
        return self.dir / name

    def write(self, name, text, mode=0o644):
        p = self.path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, mode)
        return p

    # -- the broker -------------------------------------------------------

    def start_broker(self):
        passwd = self.path("mosquitto.passwd")
        subprocess.run(
            ["mosquitto_passwd", "-c", "-b", str(passwd), MQTT_USER, MQTT_PASSWORD],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=10,
        )
        os.chmod(passwd, 0o644)
        self.broker_port = free_port()
        conf = self.write(
            "mosquitto.conf",
            f"persistence false\nallow_anonymous false\npassword_file {passwd}\n"
            f"listener {self.broker_port} 127.0.0.1\n",
        )
        self.procs["mosquitto"] = Proc("mosquitto", [mosquitto_binary(), "-c", str(conf)], self.dir)
        wait_for("mosquitto to listen", 10, lambda: self._connects(self.broker_port))

    @staticmethod
    def _connects(port):
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    # -- ledd ---------------------------------------------------------------

    def hooks_user(self):
        return "nobody" if is_root() else str(os.getuid())

    def ledd_config(self):
        """packaging/ledd.toml with what a test must change: the socket in
        the temporary directory, the simulated strip, the hooks role for
        whoever runs mqttd and webd here."""
        cfg = tomllib.loads((ROOT / "packaging" / "ledd.toml").read_text())
        cfg["socket"] = str(self.path("ledd.sock"))
        cfg.pop("socket_group", None)  # group `tinsel` exists only with the package
        cfg["socket_mode"] = "0666"
        cfg["strip"]["backend"] = "sim"
        if self.strip_type:
            cfg["strip"]["type"] = self.strip_type
            cfg["strip"].pop("order", None)  # follows the type
        access = cfg.setdefault("access", {})
        access["hooks_users"] = [self.hooks_user()]
        # hooks_max_brightness: the packaged value (the slider needs it).
        return toml_dump(cfg)

    def start_ledd(self):
        if "ledd" not in self.procs:
            conf = self.write("ledd.toml", self.ledd_config())
            self.procs["ledd"] = Proc("ledd", [self.bin("ledd"), "--config", str(conf)], self.dir)
        else:
            self.procs["ledd"].start()
        wait_for("ledd to answer", 10, lambda: self.ledctl_run("status").returncode == 0)

    def ledctl_run(self, *args):
        return subprocess.run(
            [self.bin("ledctl"), "--socket", str(self.path("ledd.sock")), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )

    def ledctl(self, *args):
        out = self.ledctl_run(*args)
        if out.returncode != 0:
            raise Failure(f"ledctl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def status(self):
        return json.loads(self.ledctl("status", "--json"))

    # -- mqttd ----------------------------------------------------------------

    def user_lines(self):
        return {"user": "nobody", "group": nogroup()} if is_root() else {}

    def start_mqttd(self):
        if "mqttd" not in self.procs:
            cfg = tomllib.loads((ROOT / "packaging" / "mqttd.toml").read_text())
            cfg.pop("user", None)
            cfg.pop("group", None)
            cfg.update(self.user_lines())
            cfg["ledd_socket"] = str(self.path("ledd.sock"))
            cfg["name"] = TREE_NAME
            pw = self.write("mqtt.password", MQTT_PASSWORD + "\n")
            cfg["broker"].update(
                host="127.0.0.1",
                port=self.broker_port,
                username=MQTT_USER,
                password_file=str(pw),
            )
            # Top-level keys before the tables.
            ordered = {k: v for k, v in cfg.items() if not isinstance(v, dict)}
            ordered.update({k: v for k, v in cfg.items() if isinstance(v, dict)})
            conf = self.write("mqttd.toml", toml_dump(ordered))
            self.procs["mqttd"] = Proc("mqttd", [self.bin("mqttd"), "--config", str(conf)], self.dir)
        else:
            self.procs["mqttd"].start()

    # -- webd -------------------------------------------------------------------

    def start_webd(self, token_toml):
        """webd with the packaged hooks, the given [[tokens]]/[hooks.*] TOML
        (the docs' block; its `sha256 = "…"` replaced by a fresh token's)
        and a self-signed certificate for localhost."""
        out = subprocess.run(
            [self.bin("webd"), "token", "new", "home-assistant"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        token, lines = out.stdout.split("\n", 1)
        sha = re.search(r'sha256 = "([0-9a-f]{64})"', lines).group(1)
        self.webd_token = token.strip()
        doc = re.sub(r'sha256 = "[^"]*"', f'sha256 = "{sha}"', token_toml)
        doc = re.sub(r"allow_from = \[[^\]]*\]", 'allow_from = ["127.0.0.0/8"]', doc)
        redefined = set(re.findall(r"^\[hooks\.([\w-]+)\]", doc, re.M))
        packaged = (ROOT / "packaging" / "webd.toml").read_text()
        hooks = []
        for part in re.split(r"(?m)^(?=\[)", packaged):
            m = re.match(r"\[hooks\.([\w-]+)\]", part)
            if m and m.group(1) not in redefined:
                hooks.append(part)
        subprocess.run(
            [self.bin("webd"), "cert", "self-signed", "--force", "--out", str(self.path("tls"))],
            check=True,
            capture_output=True,
            timeout=10,
        )
        os.chmod(self.path("tls"), 0o755)
        os.chmod(self.path("tls/privkey.pem"), 0o644)
        self.webd_cert = self.path("tls/fullchain.pem")
        self.webd_port = free_port()
        users = "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.user_lines().items())
        conf = self.write(
            "webd.toml",
            f'listen = "127.0.0.1:{self.webd_port}"\nledd_socket = "{self.path("ledd.sock")}"\n{users}'
            f'\n[tls]\ncert = "{self.webd_cert}"\nkey = "{self.path("tls/privkey.pem")}"\n\n'
            + "".join(hooks)
            + "\n"
            + doc,
        )
        check = subprocess.run(
            [self.bin("webd"), "--check-config", str(conf)], capture_output=True, text=True, timeout=10
        )
        if check.returncode != 0:
            raise Failure(f"webd --check-config {conf}: {check.stderr.strip()}")
        self.procs["webd"] = Proc("webd", [self.bin("webd"), "--config", str(conf)], self.dir)
        wait_for("webd to listen", 10, lambda: self._connects(self.webd_port))

    # -- Home Assistant -----------------------------------------------------------

    def ha_config(self, extra_yaml=""):
        self.ha_port = free_port()
        return (
            "homeassistant:\n  name: tinsel test\n  time_zone: UTC\n  unit_system: metric\n"
            "  latitude: 52.5\n  longitude: 13.4\n  elevation: 30\n  country: DE\n"
            f"http:\n  server_host: 127.0.0.1\n  server_port: {self.ha_port}\n"
            "api:\nonboarding:\nconfig:\nlogger:\n  default: info\n" + extra_yaml
        )

    def ha_dir(self):
        return self.path("ha")

    def write_ha_config(self, extra_yaml="", secrets=""):
        self.write("ha/configuration.yaml", self.ha_config(extra_yaml))
        self.write("ha/secrets.yaml", secrets or "{}\n")

    def hass_env(self):
        env = dict(os.environ)
        if self.webd_cert:
            env["REQUESTS_CA_BUNDLE"] = str(self.webd_cert)
        return env

    def check_config(self):
        """`hass --script check_config`: its output; Failure when it fails."""
        out = subprocess.run(
            [str(self.venv / "bin" / "hass"), "--script", "check_config", "-c", str(self.ha_dir())],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.hass_env(),
        )
        if out.returncode != 0 or "Failed config" in out.stdout:
            raise Failure(f"hass --script check_config failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def start_ha(self):
        """Starts Home Assistant (--skip-pip: it may not install anything;
        scripts/ha-venv did), waits for its API, onboards."""
        argv = [
            str(self.venv / "bin" / "hass"),
            "-c",
            str(self.ha_dir()),
            "--skip-pip",
            "--log-no-color",
        ]
        self.procs["hass"] = Proc("hass", argv, self.dir, env=self.hass_env())
        self.ha = HomeAssistant(self.ha_port)

        def up():
            if not self.procs["hass"].running():
                raise Failure("Home Assistant exited:\n" + self.procs["hass"].log()[-3000:])
            status, _ = self.ha.request("GET", "/api/onboarding", timeout=2)
            return status == 200

        wait_for("Home Assistant's API", 90, up, interval=0.3)
        self.ha.onboard()
        return self.ha

    def ha_log(self):
        """Home Assistant's log file (its stderr, which holds the same lines,
        when it died before writing one)."""
        for p in (self.ha_dir() / "home-assistant.log", self.path("hass.log")):
            try:
                text = p.read_text(errors="replace")
            except OSError:
                continue
            if text:
                return text
        return ""

    # -- the end ---------------------------------------------------------------------

    def close(self, keep=False):
        for name in ("hass", "webd", "mqttd", "ledd", "mosquitto"):
            p = self.procs.get(name)
            if p:
                p.stop()
        if keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def cargo_bins():
    """`cargo build --bins` in the workspace; the directory of the binaries."""
    log("cargo build --bins")
    subprocess.run(["cargo", "build", "--bins", "--locked"], cwd=ROOT, check=True, timeout=1800)
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return Path(target) / "debug"


def install_signal_handlers():
    """SIGTERM and SIGHUP end the run like Ctrl-C: the callers' `finally`
    stops everything."""

    def raise_interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, raise_interrupt)


def default_venv():
    return os.environ.get(
        "TINSEL_HA_VENV", str(Path.home() / ".cache" / "tinsel" / "ha-2025.4.4")
    )


def check_python():
    if sys.version_info[:2] != (3, 13):
        raise SystemExit(
            f"run this with Home Assistant's venv python: $(scripts/ha-venv)/bin/python {sys.argv[0]} "
            f"(this is {sys.executable}, Python {sys.version.split()[0]})"
        )
