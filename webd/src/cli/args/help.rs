//! The `--help` of webd and of each subcommand.

pub const TOP: &str = "\
webd: the HTTPS webhook daemon of tinsel. Turns authenticated webhooks
(IFTTT, Home Assistant, curl) into named animations on ledd, from a sandbox:
an unprivileged user, no capabilities, seccomp and Landlock.

Usage: webd [OPTIONS] [COMMAND]

Commands:
  check  Print which sandbox layers this kernel supports (Landlock ABI,
         seccomp, no_new_privs), then exit
  token  Make tokens: the secrets IFTTT, Home Assistant or curl send
  cert   Make TLS certificates: a server certificate for a first test (use
         Let's Encrypt's for IFTTT: it refuses self-signed ones), or client
         certificates for mutual TLS
  pair     Pair a phone with the tree's page: prints a one-time link and its
           QR code (run as root on the tree)
  devices  List the paired devices
  revoke   Unpair one device; the others stay paired

Options:
      --config <FILE>        Run the daemon with this config file. Started as
                             root, webd reads its files and listens, then
                             drops to the config's `user`/`group`.
      --check-config <FILE>  Check a config file, then exit (0 or 78): its
                             keys, the certificate and key it names, that
                             `user` and `group` exist and can re-read those
                             files on reload, and which role ledd gives that
                             user.
      --example-config       Print a commented example config (every key,
                             with its default) and exit.
  -v, --verbose              Log debug detail too.
      --seccomp-log          Debugging only: log syscalls outside the seccomp
                             allowlist to the kernel audit log (`journalctl
                             -k | grep type=1326`) instead of killing webd.
                             Every other sandbox layer stays on. Needs
                             --config.
  -h, --help                 Print help (`webd COMMAND --help` for a command).
  -V, --version              Print the version.

Examples:
  webd --example-config > /etc/tinsel/webd.toml     a commented config to edit
  webd cert self-signed --out /etc/tinsel/tls       certificate + key for a first test
  webd cert client phone --dir /etc/tinsel/clients  client CA + certificate (mutual TLS)
  webd token new ifttt --hook color --hook off      a token for two hooks (shown once)
  webd --check-config /etc/tinsel/webd.toml         config, certificate (days left), key, users, ledd
  webd --config /etc/tinsel/webd.toml               run (systemd: systemctl start webd.socket)
  webd check                                        which sandbox layers this kernel has
  sudo webd pair --name \"Anna's phone\"              a pairing link and QR code for the page
  kill -HUP $(pidof webd)                           re-read the config and certificate

A hook is called with
  curl --cacert fullchain.pem -H 'Authorization: Bearer TOKEN' \\
       -H 'Content-Type: application/json' -d '{\"color\":\"red\"}' https://HOST:8443/hooks/color
or, from IFTTT (no headers), with the token in the JSON body: {\"token\":\"TOKEN\",\"color\":\"red\"}
With [tls] client_cert = \"optional\" or \"required\", add --cert NAME.pem --key NAME-key.pem
(from `webd cert client NAME`). webd warns in its log 14 days before its certificate expires.

Exit codes:
  0   stopped cleanly, or the command or check passed
  64  bad command line
  69  unavailable: the listen address is taken, or socket activation passed something unusable
  70  internal error
  71  the sandbox could not be applied
  77  permission denied: a file or port webd may not use
  78  config error: the message names the file and the key

See docs/webd.md (installed as /usr/share/doc/tinsel/webd.md).
";

pub const CHECK: &str = "\
Print which sandbox layers this kernel supports (Landlock ABI, seccomp,
no_new_privs), then exit.

Usage: webd check
";

pub const TOKEN: &str = "\
Make tokens: the secrets IFTTT, Home Assistant or curl send.

Usage: webd token <COMMAND>

Commands:
  new  Print a new random token (256 bits) once, then the [[tokens]] lines
       for webd.toml, which store only its SHA-256

See `webd token new --help`.
";

pub const TOKEN_NEW: &str = "\
Print a new random token (256 bits) once, on the first line of stdout, then
the `[[tokens]]` lines for webd.toml, which store only its SHA-256.

Usage: webd token new [OPTIONS] <NAME>

Arguments:
  <NAME>         The token's name, shown in webd's logs (1 to 64 of A-Z,
                 a-z, 0-9, '.', '_', '-').

Options:
      --hook <HOOK>  A hook the token may call; repeat for more. Default:
                     every hook (\"*\").
      --signed       Make an HMAC-SHA256 signing key instead of a bearer
                     token: requests carry X-Tinsel-Timestamp and
                     X-Tinsel-Signature. The config must hold the key
                     itself, so keep webd.toml readable only by root and
                     webd's group (0640 root:tinsel).
  -h, --help         Print help.

Examples:
  webd token new ifttt                          bearer token for every hook
  webd token new phone --hook color --hook off  only these hooks
  webd token new github --signed                HMAC key: requests sign their body

Paste the printed [[tokens]] lines into webd.toml, then reload webd
(systemctl reload webd, or kill -HUP). The token itself is printed once, on
the first line, and stored nowhere: the config keeps only its SHA-256.

To narrow a token, add lines below its [[tokens]] lines (docs/webd.md,
\"Narrow tokens\"):
  state = true                     may read GET /state (Home Assistant)
  allow_from = [\"192.168.1.0/24\"]  only from these networks
  rate = \"30/min\"                  at most this often (429 beyond)
  expires = 2027-01-06             refused after this day (UTC)
";

pub const CERT: &str = "\
Make TLS certificates: a server certificate for a first test (use Let's
Encrypt's for IFTTT: it refuses self-signed ones), or client certificates
for mutual TLS.

Usage: webd cert <COMMAND>

Commands:
  self-signed  A self-signed server certificate and key, for a first test
  client       A client certificate, signed by a client CA (made on first use)

See `webd cert self-signed --help` and `webd cert client --help`.
";

pub const SELF_SIGNED: &str = "\
Write a self-signed ECDSA P-256 certificate (fullchain.pem, 0644) and its
key (privkey.pem) into DIR, and print the [tls] lines for webd.toml.
Clients must be told to trust it (curl --cacert).

Usage: webd cert self-signed [OPTIONS] --out <DIR>

Options:
      --out <DIR>      The directory to write into (created if missing).
      --name <NAME>    A DNS name or IP address the certificate is for;
                       repeat for more. Use the names clients connect to.
                       Default: localhost, 127.0.0.1 and ::1.
      --group <GROUP>  The group that may read the key (0640): webd's
                       `group`. Default when run as root: \"tinsel\" if that
                       group exists; otherwise the key stays 0600, readable
                       by its owner only.
      --force          Replace existing files.
  -h, --help           Print help.

Example:
  sudo webd cert self-signed --out /etc/tinsel/tls --name tree.example.org --name 192.168.1.50

Run as root, the key is made 0640 root:tinsel (or --group), so that webd,
which drops from root to its user, can re-read it on SIGHUP.
";

pub const CLIENT: &str = "\
Write a client certificate for NAME (NAME.pem) and its key (NAME-key.pem,
0600) into DIR, signed by the client CA in DIR (ca.pem, ca-key.pem 0600;
made on first use), and print the config lines. Clients present it with
`curl --cert --key`; webd checks it against `[tls] client_ca` when
`client_cert` is \"optional\" or \"required\".

Usage: webd cert client [OPTIONS] --dir <DIR> <NAME>

Arguments:
  <NAME>  The client's name: the certificate's subject CN, shown in webd's
          log lines (1 to 64 of A-Z, a-z, 0-9, '.', '_', '-').

Options:
      --dir <DIR>    The directory of the client CA (created if missing).
      --days <DAYS>  How long the client certificate is valid, in days (1 to
                     3650; default 825).
      --force        Replace NAME's existing certificate and key (the CA is
                     kept).
  -h, --help         Print help.

Example:
  sudo webd cert client home-assistant --dir /etc/tinsel/clients

then in webd.toml
  [tls]
  client_ca = \"/etc/tinsel/clients/ca.pem\"
  client_cert = \"optional\"      # \"required\": no certificate, no TLS handshake
and in the token's [[tokens]] entry
  require_client_cert = true     # this token is refused (403) without the certificate
and reload webd (systemctl reload webd). IFTTT cannot present a certificate:
keep client_cert = \"optional\" and require it per token if IFTTT calls webd.

The client uses it with
  curl --cacert fullchain.pem --cert DIR/NAME.pem --key DIR/NAME-key.pem \\
       -H 'Authorization: Bearer TOKEN' -X POST https://HOST:8443/hooks/off
Home Assistant's rest_command cannot present one: use a shell_command with that curl.

Keep DIR/ca-key.pem private: whoever holds it can make client certificates.
webd reads only DIR/ca.pem. See docs/webd.md, \"Client certificates\".
";

pub const PAIR: &str = "\
Pair a phone (or any browser) with the tree's page ([page] enabled = true):
prints a one-time link https://HOST:PORT/pair#CODE and its QR code. Opening
it within 10 minutes gives that browser its own device cookie; the code
works once. Run it as root (or webd's user) on the tree: it writes the
code's hash into [page] devices_dir, where the running webd finds it.

Usage: webd pair [--config <FILE>] [--url <URL>] --name <NAME>

Options:
      --name <NAME>    The device's name, as `webd devices` lists it and
                       `webd revoke` takes it (1 to 64 characters)
      --config <FILE>  webd's config [default: /etc/tinsel/webd.toml]
      --url <URL>      The page's address as phones reach it
                       [default: https://HOSTNAME.local:PORT]
  -h, --help           Print help
";

pub const DEVICES: &str = "\
List the devices paired with the page: name, paired, last used, expires.

Usage: webd devices [--config <FILE>]

Options:
      --config <FILE>  webd's config [default: /etc/tinsel/webd.toml]
  -h, --help           Print help
";

pub const REVOKE: &str = "\
Unpair the device named NAME (and any pending pairing for it): its next
request is refused. The other devices stay paired.

Usage: webd revoke [--config <FILE>] <NAME>

Options:
      --config <FILE>  webd's config [default: /etc/tinsel/webd.toml]
  -h, --help           Print help
";
