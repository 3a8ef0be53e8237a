//! What the browser tests need to find their tools — the workspace, Chromium, `node` and
//! Playwright (installed by `npm ci` in `tests/browser`) — or why they cannot run here, with
//! how to fix it. `tests/tests/browser.rs` (the arena's page) and
//! `tests/tests/shooter_browser.rs` (the shooter's) share it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set to 1 where a missing browser must fail the test instead of skipping it (as in CI).
pub const REQUIRE_BROWSER_ENV: &str = "TICKSYNC_REQUIRE_BROWSER";

/// Where Chromium is looked for unless `$CHROMIUM_PATH` says otherwise.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// The Chromium the Playwright scripts launch: `$CHROMIUM_PATH`, else `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM))
}

/// The path of the Playwright script `script` in `tests/browser`, or why a browser test
/// cannot run on this machine (each reason says what to install).
pub fn browser_script(script: &str) -> Result<PathBuf, String> {
    let browser_dir = workspace_root().join("tests/browser");
    let chromium = chromium_path();
    if !chromium.is_file() {
        return Err(format!(
            "no Chromium at {} (apt-get install -y chromium)",
            chromium.display()
        ));
    }
    match Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => {}
        Ok(output) => return Err(format!("`node --version` failed: {:?}", output.status)),
        Err(error) => return Err(format!("no `node` on PATH: {error}")),
    }
    if !browser_dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Err(format!(
            "playwright-core is not installed (cd {} && npm ci)",
            browser_dir.display()
        ));
    }
    Ok(browser_dir.join(script))
}
