//! `scripts/lab`, the README's run command: with PostgreSQL and PgBouncer present it installs
//! nothing and hands its arguments to `cargo run --release -- lab`; the install logic it shares
//! with `scripts/test` (scripts/lib/install.sh) finds them as the lab does. (`cargo` is a stub
//! here: the test is about the script, not a release build.)

use std::path::Path;
use std::process::Command;

#[test]
fn scripts_lab_runs_the_lab_through_cargo_with_its_arguments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stubs = tempfile::tempdir().unwrap();
    let cargo = stubs.path().join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\necho \"cargo $*\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        stubs.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(root.join("scripts/lab"))
        .args(["--islands", "3", "--no-tui"])
        .env("PATH", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "cargo run --release -- lab --islands 3 --no-tui",
        "{stderr}"
    );
    // Everything is installed on a machine that runs the tests (scripts/test saw to it).
    assert!(!stderr.contains("installing"), "{stderr}");
}

#[test]
fn the_shared_install_logic_finds_postgresql_and_pgbouncer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .args([
            "-c",
            "set -eu; . scripts/lib/install.sh; have_pg_server; have_pgbouncer",
        ])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    // And reports a missing one as missing: PG_BIN is tried first, but a wrong one does not
    // hide the others, so point the search at nothing at all.
    let status = Command::new("bash")
        .args([
            "-c",
            ". scripts/lib/install.sh; PGBOUNCER_BIN=/nonexistent PATH=/nonexistent have_pgbouncer",
        ])
        .current_dir(root)
        .status()
        .unwrap();
    // /usr/sbin/pgbouncer is the last resort: missing only where it is not installed there.
    assert_eq!(status.success(), Path::new("/usr/sbin/pgbouncer").exists());
}
