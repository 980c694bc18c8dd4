//! Node.js packages for the tests that drive Nango's own JavaScript SDKs: the tools checked
//! with a message saying how to install them, and `npm ci` of a pinned lock file under the
//! target folder, once per lock file. Included by `#[path]` from each test file that needs it.

use std::path::Path;
use std::process::Command;

/// The version `tool --version` prints, or a failure saying why the test needs it (`why`) and
/// how to install Node.js.
pub fn require(tool: &str, why: &str) -> String {
    let how = format!(
        "{why}: it needs Node.js 20 or newer with npm on PATH (Debian: `sudo apt-get install nodejs npm`; \
         `cargo xtask setup` installs them)"
    );
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => panic!("`{tool} --version` failed ({}): {how}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => panic!("cannot run `{tool}` ({e}): {how}"),
    }
}

/// Installs `source`'s `package.json` and `package-lock.json` into `target` with `npm ci`,
/// unless `target` already holds an install from the same lock file with `package` in its
/// `node_modules`. `what` names the packages in the failure message.
pub fn npm_ci(source: &Path, target: &Path, package: &str, what: &str) {
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let stamp = target.join(".installed-from-lock");
    if std::fs::read(&stamp).ok().as_ref() == Some(&lock) && target.join("node_modules").join(package).is_dir() {
        return;
    }
    // Installed beside, then moved into place: a half-installed folder is never used.
    let name = target.file_name().unwrap().to_string_lossy();
    let staging = target.with_file_name(format!("{name}.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), staging.join(file)).unwrap();
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"])
        .env("npm_config_update_notifier", "false")
        .current_dir(&staging)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`npm ci` of {what} failed (npm needs to reach its registry once; later runs reuse the install):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(staging.join(".installed-from-lock"), &lock).unwrap();
    let _ = std::fs::remove_dir_all(target);
    std::fs::rename(&staging, target).unwrap();
}
