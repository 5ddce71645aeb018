//! The attack-test harness: run a sandbox and one forbidden operation in a
//! fresh, single-threaded process, and report how it ended.
//!
//! A sandbox is irreversible and process-wide, and a seccomp violation kills
//! the process, so every attack needs its own process — one that looks like
//! a daemon's `main` before its runtime starts: one thread. The test binary
//! is multi-threaded (libtest), so:
//!
//! 1. the test re-executes its own binary (`current_exe() <name> --exact
//!    --nocapture --test-threads=1`, with [`CHILD_ENV`] naming the test),
//!    which runs only this test, with libtest's main thread parked waiting;
//! 2. there the harness `fork`s: the grandchild has exactly one thread. Its
//!    stdout is a pipe to the child. It runs `setup` (the sandbox), writes
//!    `armed`, runs `attack`, writes the result and `_exit`s;
//! 3. the re-executed child reads the pipe, waits for the grandchild, echoes
//!    what it read plus how it ended (exit code or signal) to its stdout,
//!    and returns the same [`Report`] to the test body, which goes on with
//!    its assertions and clean-up (temporary directories are removed);
//! 4. the test in the original process parses the child's stdout into the
//!    same [`Outcome`] and asserts on it.
//!
//! This works under `cargo nextest` (process per test) and plain `cargo
//! test` (threads), and in the emulated Pi Zero. The `armed` marker tells a
//! SIGSYS from the attack apart from a SIGSYS while sandboxing.
//!
//! Tests are declared with [`attack!`](crate::attack): the test's name is
//! written once, as the function's identifier, and the harness derives the
//! libtest name (`module::name`) from it, so a test can live in a module
//! per sandbox step. The [`attack`] module holds the forbidden operations,
//! [`check`] what must still hold and still work afterwards, [`Sleeper`] a
//! process to signal or trace that is never the test runner.
//!
//! Only for tests: the crate builds this module with its `harness` feature,
//! which only dev-dependencies enable, so the daemons never contain it.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the test a re-executed child must run.
pub const CHILD_ENV: &str = "TINSEL_SANDBOX_HARNESS_CHILD";
const TAG: &str = "tinsel-harness:";
/// How long a grandchild may run before it is killed as hung.
const TIMEOUT: Duration = Duration::from_secs(60);

/// How an attack ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Setting up the sandbox failed (the message says why).
    SetupFailed(String),
    /// The forbidden operation succeeded.
    Succeeded,
    /// The forbidden operation failed with this errno.
    Denied(i32),
    /// The process was killed by this signal after the sandbox was armed.
    Killed(i32),
    /// Anything else (signal before arming, panic, silent exit, timeout).
    Crashed(String),
}

/// The outcome and everything the child printed.
#[derive(Clone, Debug)]
pub struct Report {
    /// The outcome.
    pub outcome: Outcome,
    /// Child stdout + stderr, for failure messages.
    pub output: String,
}

impl Report {
    /// Assert death by SIGSYS (a seccomp kill) after the sandbox was armed.
    #[track_caller]
    pub fn assert_killed_by_sigsys(&self) {
        assert_eq!(
            self.outcome,
            Outcome::Killed(libc::SIGSYS),
            "expected death by SIGSYS (31) from seccomp\n--- child output ---\n{}",
            self.output
        );
    }

    /// Assert the operation failed with one of `errnos`.
    #[track_caller]
    pub fn assert_denied(&self, errnos: &[i32]) {
        match self.outcome {
            Outcome::Denied(e) if errnos.contains(&e) => {}
            ref o => panic!(
                "expected denial with errno in {errnos:?}, got {o:?}\n--- child output ---\n{}",
                self.output
            ),
        }
    }

    /// Assert the operation succeeded (for "allowed" checks).
    #[track_caller]
    pub fn assert_succeeded(&self) {
        assert_eq!(
            self.outcome,
            Outcome::Succeeded,
            "expected success\n--- child output ---\n{}",
            self.output
        );
    }

    /// Assert the sandbox itself failed with a message containing `needle`.
    #[track_caller]
    pub fn assert_setup_failed(&self, needle: &str) {
        match &self.outcome {
            Outcome::SetupFailed(m) if m.contains(needle) => {}
            o => panic!(
                "expected setup failure mentioning {needle:?}, got {o:?}\n--- child output ---\n{}",
                self.output
            ),
        }
    }
}

/// Declares attack tests, each written once by its identifier:
///
/// ```ignore
/// tinsel_sandbox::attack! {
///     /// What is attacked and what must happen.
///     fn reading_etc_shadow_is_denied(t) {
///         t.run(|| apply(&plan), || attack::read_file("/etc/shadow"))
///             .assert_denied(&[libc::EACCES]);
///     }
///
///     /// Tests that need root name the reason; they must be called
///     /// `as_root_*`, and a build by another user reports them ignored.
///     as_root("needs root: drops to uid 65534")
///     fn as_root_dropped_uid_cannot_return_to_root(t) { /* ... */ }
/// }
/// ```
///
/// Each expands to a `#[test] fn` whose body gets `t`, an [`Attack`]
/// that knows the test's libtest name (from `module_path!()` and
/// `stringify!`), so [`Attack::run`] re-executes exactly this test.
/// `as_root("needs root: why")` adds `#[cfg_attr(tinsel_unprivileged,
/// ignore = "needs root: why")]` (see `build/unprivileged.rs`; the reason
/// is written whole, since libtest shows only a literal) and fails the
/// test, naming the fix, when it runs without root.
#[macro_export]
macro_rules! attack {
    () => {};
    (
        $(#[$meta:meta])*
        as_root($why:literal)
        fn $name:ident($t:ident) $body:block
        $($rest:tt)*
    ) => {
        $(#[$meta])*
        #[test]
        #[cfg_attr(tinsel_unprivileged, ignore = $why)]
        fn $name() {
            #[allow(unused_variables)]
            let $t = $crate::harness::Attack::as_root(module_path!(), stringify!($name), $why);
            $body
        }
        $crate::attack! { $($rest)* }
    };
    (
        $(#[$meta:meta])*
        fn $name:ident($t:ident) $body:block
        $($rest:tt)*
    ) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            #[allow(unused_variables)]
            let $t = $crate::harness::Attack::new(module_path!(), stringify!($name));
            $body
        }
        $crate::attack! { $($rest)* }
    };
}

/// One attack test, by the name libtest knows it by. Made by [`attack!`](crate::attack).
#[derive(Clone, Debug)]
pub struct Attack {
    name: String,
}

impl Attack {
    /// The test `function` in the module `module_path` (`module_path!()`
    /// of the test: its first segment, the test crate, is not part of the
    /// libtest name).
    pub fn new(module_path: &str, function: &str) -> Attack {
        let name = match module_path.split_once("::") {
            Some((_crate, module)) => format!("{module}::{function}"),
            None => function.to_owned(),
        };
        Attack { name }
    }

    /// [`Attack::new`] for a test that needs root: it must be named
    /// `as_root_*`, and fails with the fix when run by another user.
    /// `why` is the reason shown when it is ignored: `"needs root: ..."`.
    #[track_caller]
    pub fn as_root(module_path: &str, function: &str, why: &str) -> Attack {
        assert!(
            function.starts_with("as_root_"),
            "{function}: a test that needs root is named as_root_* (build/unprivileged.rs)"
        );
        assert!(
            why.starts_with("needs root: "),
            "{function}: write the reason as \"needs root: why\", not {why:?}"
        );
        // SAFETY: geteuid takes no arguments and cannot fail.
        let uid = unsafe { libc::geteuid() };
        assert_eq!(
            uid, 0,
            "{function} needs root: run the tests as root, or build them as an ordinary user so it is reported as ignored (build/unprivileged.rs)"
        );
        Attack::new(module_path, function)
    }

    /// The libtest name, e.g. `landlock_fs::reading_etc_passwd_is_denied`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the re-executed child (where the attack runs), not
    /// the original test process.
    pub fn in_child(&self) -> bool {
        std::env::var(CHILD_ENV).as_deref() == Ok(self.name.as_str())
    }

    /// [`isolated`] for this test: `setup` (the sandbox) then `attack`, in a
    /// fresh single-threaded process.
    pub fn run<S, A>(&self, setup: S, attack: A) -> Report
    where
        S: FnOnce() -> Result<(), String>,
        A: FnOnce() -> Result<(), i32>,
    {
        isolated(&self.name, setup, attack)
    }
}

/// Runs `f` while a second thread of this process is alive (it waits on
/// a channel), then ends that thread: the setup of an attack on
/// `ensure_single_threaded`, which must refuse to sandbox a process with
/// threads already running.
pub fn with_another_thread<R>(f: impl FnOnce() -> R) -> R {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let th = std::thread::spawn(move || rx.recv());
    let r = f();
    let _ = tx.send(());
    let _ = th.join();
    r
}

/// A `sleep 30` process: a target to signal or trace that is never the
/// test runner (an attack that got through must not stop the harness).
/// Killed and reaped when dropped.
#[derive(Debug)]
pub struct Sleeper(std::process::Child);

impl Sleeper {
    /// Starts it.
    #[track_caller]
    pub fn start() -> Sleeper {
        let child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("start `sleep 30` as an attack target");
        Sleeper(child)
    }

    /// Its process id.
    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.0.id()).expect("pid fits pid_t")
    }

    /// Whether it is still running (no signal reached it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `setup` then `attack` in a fresh single-threaded process.
///
/// `test_name` must be the name libtest knows the calling test by (for a
/// top-level test in an integration-test file, the function name). `setup`
/// returns `Err(message)` if the sandbox failed; `attack` returns `Ok(())` if
/// the forbidden thing worked and `Err(errno)` if it was refused.
pub fn isolated<S, A>(test_name: &str, setup: S, attack: A) -> Report
where
    S: FnOnce() -> Result<(), String>,
    A: FnOnce() -> Result<(), i32>,
{
    if std::env::var(CHILD_ENV).as_deref() == Ok(test_name) {
        return run_child(setup, attack);
    }
    run_parent(test_name)
}

fn run_parent(test_name: &str) -> Report {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test_name)
        .stdin(Stdio::null())
        .output()
        .expect("re-execute the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let output = format!(
        "{stdout}\n--- stderr ---\n{stderr}\n--- child {} ---",
        out.status
    );
    let outcome = parse(&stdout, test_name);
    Report { outcome, output }
}

fn parse(stdout: &str, test_name: &str) -> Outcome {
    let lines: Vec<&str> = stdout
        .lines()
        // libtest may print "test name ... " before the first line.
        .filter_map(|l| l.find(TAG).map(|i| &l[i + TAG.len()..]))
        .map(str::trim)
        .collect();
    let find = |p: &str| lines.iter().find_map(|l| l.strip_prefix(p)).map(str::trim);
    if let Some(msg) = find("setup-failed") {
        return Outcome::SetupFailed(msg.to_owned());
    }
    let armed = lines.contains(&"armed");
    let attack = find("attack");
    match find("wait") {
        Some(w) if w.starts_with("signal") => {
            let sig = w["signal".len()..].trim().parse().unwrap_or(-1);
            if armed {
                Outcome::Killed(sig)
            } else {
                Outcome::Crashed(format!(
                    "killed by signal {sig} before the sandbox was armed"
                ))
            }
        }
        Some("exit 0") => match attack {
            Some("ok") => Outcome::Succeeded,
            Some(a) if a.starts_with("errno") => {
                Outcome::Denied(a["errno".len()..].trim().parse().unwrap_or(-1))
            }
            _ => {
                Outcome::Crashed("exited 0 without reporting the attack (did exec succeed?)".into())
            }
        },
        Some(w) => Outcome::Crashed(format!("grandchild: {w}")),
        None => Outcome::Crashed(format!(
            "the re-executed test printed no result: is {test_name:?} the exact libtest name of the calling test?"
        )),
    }
}

/// Write one harness line with a single `write(2)` to fd 1 (no std lock, no
/// buffering: safe in a forked child and allowed by every tinsel filter).
pub fn say(line: &str) {
    let text = format!("{TAG} {line}\n");
    let mut bytes = text.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: writes from a live buffer of the stated length.
        let n = unsafe { libc::write(1, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

fn run_child<S, A>(setup: S, attack: A) -> Report
where
    S: FnOnce() -> Result<(), String>,
    A: FnOnce() -> Result<(), i32>,
{
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut pipe = [0; 2];
    // SAFETY: `pipe` is a live array of two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        panic!("pipe2: {}", std::io::Error::last_os_error());
    }
    let [read_end, write_end] = pipe;
    // SAFETY: this process runs only the calling test (`--exact
    // --test-threads=1`); libtest's other thread is parked waiting for the
    // result and holds no lock, so the single-threaded child may allocate
    // and run ordinary Rust code (glibc's malloc is fork-safe).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // The grandchild's stdout is the pipe: its harness lines (and
        // anything else it prints there) go to the waiting child.
        // SAFETY: plain descriptor operations on descriptors we own.
        unsafe {
            libc::dup2(write_end, 1);
            libc::close(read_end);
            libc::close(write_end);
        }
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if let Err(msg) = setup() {
                say(&format!("setup-failed {}", msg.replace('\n', " / ")));
                return 3;
            }
            say("armed");
            match attack() {
                Ok(()) => say("attack ok"),
                Err(e) => say(&format!("attack errno {e}")),
            }
            0
        }))
        .unwrap_or(101);
        // SAFETY: _exit ends the process immediately without running
        // atexit handlers or destructors inherited from the parent.
        unsafe { libc::_exit(code) }
    }
    // SAFETY: closing our copy of the write end, so EOF arrives when the
    // grandchild exits.
    unsafe { libc::close(write_end) };
    let captured = read_with_timeout(read_end, TIMEOUT);
    // SAFETY: closing the read end we own.
    unsafe { libc::close(read_end) };
    let mut status = 0;
    let start = Instant::now();
    let waited = loop {
        // SAFETY: `status` is a live local; `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            break true;
        }
        if rc < 0 || start.elapsed() > Duration::from_secs(5) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wait_line = if !waited {
        "wait timeout".to_owned()
    } else if libc::WIFSIGNALED(status) {
        format!("wait signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait exit {}", libc::WEXITSTATUS(status))
    };
    // Echo for the parent, which parses the same lines.
    print!("{captured}");
    say(&wait_line);
    let all = format!("{captured}{TAG} {wait_line}\n");
    Report {
        outcome: parse(&all, "(child)"),
        output: all,
    }
}

/// Read `fd` to EOF, giving up after `timeout`.
fn read_with_timeout(fd: libc::c_int, timeout: Duration) -> String {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            out.extend_from_slice(format!("{TAG} wait timeout\n").as_bytes());
            break;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one live pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if rc == 0 {
            continue;
        }
        // SAFETY: reads into a live buffer of the stated length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The forbidden operations, as small functions returning `Err(errno)` when
/// refused. Shared by webd's and ledd's tests.
pub mod attack;
/// What a sandboxed process must still show (`/proc` status of every
/// thread) and still do (serve on a tokio runtime). Shared likewise.
pub mod check;
