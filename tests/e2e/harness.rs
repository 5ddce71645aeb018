//! Shared helpers for the end-to-end tests: find the real binaries, run them
//! in a temporary directory, and never leave a process behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The path of a workspace binary (`ledd`, `ledctl`, `webd`) built by the
/// same `cargo test`/`cargo nextest` run as this test.
///
/// Test executables live in `target/<profile>/deps/`; the binaries one level
/// up. Cargo builds them because `ledd` and `webd` have integration tests of
/// their own in the same workspace run.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary sits in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --workspace --bins` (or run the whole workspace's tests)",
        path.display()
    );
    path
}

/// A child process that is killed and reaped when dropped, so a failing
/// assertion never leaves a daemon running.
#[derive(Debug)]
pub struct Daemon {
    pub child: Option<Child>,
    pub name: &'static str,
}

impl Daemon {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Daemon {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        Daemon {
            child: Some(child),
            name,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` (e.g. `libc`-free: "TERM", "HUP") with the `kill` tool.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {} failed", self.name);
    }

    /// Waits up to `limit` for the process to exit and returns its output
    /// status, or `None` if it is still running.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `f` every 20 ms until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command to completion, with its output captured.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running command")
}

/// The output's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The output's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
