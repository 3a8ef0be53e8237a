//! Optional tests that cannot run here (no Chromium, no Python with `websocket-client`) say
//! so where people look: in the terminal of a plain `cargo test --workspace`.
//!
//! libtest captures what a passing test prints with `print!`/`eprint!`, so an `eprintln!`
//! from a skipped test is never seen, and the test shows as `ok`. [`skip`] writes to the
//! process's stderr handle directly, which the harness does not capture, so the notice
//! appears right above the test's `... ok` line. Where the test is required (the
//! `TICKSYNC_REQUIRE_*` variable is 1, as in CI) it fails instead.
//!
//! [`run_test_in_child`] lets a test check that: it runs one test of the same binary, with
//! the harness's capture on as in a plain run, and returns what reached the terminal.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first word of a skip notice, for people and for the tests that look for it.
pub const SKIPPED: &str = "SKIPPED";

/// Skips the calling test loudly, or fails it (panics) when `require_env` is set to 1.
///
/// `test` is the test's name, `why` what is missing, `fix` how to get it.
pub fn skip(test: &str, require_env: &str, why: &str, fix: &str) {
    let required = std::env::var(require_env).is_ok_and(|value| value == "1");
    assert!(!required, "{require_env}=1 but {test} cannot run: {why}");
    let rule = "=".repeat(78);
    let notice = format!(
        "\n{rule}\n{SKIPPED} {test}: {why}.\n  To run it: {fix}.\n  \
         It passes as `ok` without running; {require_env}=1 makes this a failure.\n{rule}\n"
    );
    // Straight to the stderr handle, past the harness's capture. Best effort: a closed
    // stderr must not fail the test.
    let _ = std::io::stderr().lock().write_all(notice.as_bytes());
}

/// Runs the test named `test` of the current test binary in a child process, with `env`
/// set and `unset` removed, and returns its exit success and its stdout and stderr
/// together. The child is killed after `timeout`.
pub fn run_test_in_child(
    test: &str,
    env: &[(&str, &str)],
    unset: &[&str],
    timeout: Duration,
) -> std::io::Result<(bool, String)> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args([test, "--exact", "--test-threads=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    for key in unset {
        command.env_remove(key);
    }
    let mut child = command.spawn()?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let readers = [
        std::thread::spawn(move || read_all(stdout.as_mut())),
        std::thread::spawn(move || read_all(stderr.as_mut())),
    ];
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::new();
    for reader in readers {
        output.push_str(&reader.join().unwrap_or_default());
    }
    Ok((status.success(), output))
}

fn read_all(pipe: Option<&mut impl Read>) -> String {
    let mut text = String::new();
    if let Some(pipe) = pipe {
        let _ = pipe.read_to_string(&mut text);
    }
    text
}
