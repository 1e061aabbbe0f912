//! `rotascope serve` refusing to start: a remote address without `--allow-remote`, a taken port,
//! a broken config. Each exits 3 with a clear message and probes nothing.

use std::process::{Command, Stdio};

/// A config whose only node listens nowhere: a probe would show as a refused connection.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("rotascope.toml");
    std::fs::write(
        &path,
        "islands = [[\"postgres://127.0.0.1:1/app\"]]\n\
         [[secrets]]\nlogin = \"app\"\npassword = \"serve-cli-secret-9Xk\"\n",
    )
    .unwrap();
    path
}

/// Runs the binary to its end (each case exits at once) and returns (code, stdout, stderr).
fn run(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run rotascope");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (
        out.status.code().expect("an exit code"),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn a_remote_address_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let c = config.to_str().unwrap();
    let (code, out, err) = run(
        &["serve", "--config", c, "--listen", "0.0.0.0:0"],
        dir.path(),
    );
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("--listen 0.0.0.0:0: not a loopback address"),
        "{err}"
    );
    assert!(err.contains("--allow-remote"), "{err}");
    // Refused before the config is read: a missing config does not change the answer.
    let (code, _, err) = run(
        &[
            "serve",
            "--config",
            "/nonexistent/x.toml",
            "--listen",
            "[::]:9187",
        ],
        dir.path(),
    );
    assert_eq!(code, 3);
    assert!(err.contains("not a loopback address"), "{err}");
}

#[test]
fn a_taken_port_and_a_broken_config_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let c = config.to_str().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, out, err) = run(&["serve", "--config", c, "--listen", &addr], dir.path());
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(&format!("--listen {addr}: ")), "{err}");

    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "islands = [[\"postgres://127.0.0.1:1/app\"]]\n[probe]\nintervl = \"1s\"\n",
    )
    .unwrap();
    let (code, _, err) = run(
        &[
            "serve",
            "--config",
            broken.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_eq!(code, 3);
    assert!(err.contains("config error"), "{err}");
    assert!(!err.contains("serve-cli-secret-9Xk"));
}
