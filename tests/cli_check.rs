//! The `rotascope` binary seen from a script: exit codes and streams.
//!
//! Help, version, command-line errors and config errors: the paths that need no server.

use std::path::Path;
use std::process::{Command, Output};

fn rotascope(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(args)
        .current_dir(cwd)
        // The default config locations must not leak in from the machine running the tests.
        .env("XDG_CONFIG_HOME", cwd.join("xdg"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run rotascope")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_the_commands_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = rotascope(&["--help"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for word in [
        "config",
        "check",
        "watch",
        "--config",
        "--verbose",
        "--version",
    ] {
        assert!(help.contains(word), "help lacks {word}: {help}");
    }
    assert!(out.stderr.is_empty());

    let out = rotascope(&["check", "--help"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--format"));
    let out = rotascope(&["watch", "--help"], dir.path());
    assert!(text(&out.stdout).contains("--probes"));
    assert!(text(&out.stdout).contains("--record"));
}

#[test]
fn version_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = rotascope(&["--version"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("rotascope {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_command_line_exits_3_not_2() {
    // 2 means "down" to a monitoring system; a typo must not page anyone as an outage.
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["check", "--format", "yaml"][..],
        &["chek"],
        &["config"],
        &["watch", "--record"],
    ] {
        let out = rotascope(args, dir.path());
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

const SECRET: &str = "Tr0ub4dor-and-3";

#[test]
fn a_missing_config_exits_3_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        &["config", "check"][..],
        &["check"],
        &["check", "--format", "json"],
        &["watch"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--config", "nope.toml"]);
        let out = rotascope(&args, dir.path());
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with("rotascope: config error:"), "{err}");
        assert!(err.contains("nope.toml"), "{err}");
    }
}

#[test]
fn a_broken_config_exits_3_without_showing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rotascope.toml");
    std::fs::write(
        &path,
        format!(
            "islands = [[\"postgres://127.0.0.1:1/app\"]]\n\
             [[secrets]]\nlogin = \"app\"\npassword = \"{SECRET}\"\n\
             [probe]\nintervl = \"2s\"\n"
        ),
    )
    .unwrap();
    for cmd in [
        &["config", "check"][..],
        &["check", "--format", "json"],
        &["watch"],
    ] {
        let out = rotascope(cmd, dir.path()); // found as ./rotascope.toml
        assert_eq!(out.status.code(), Some(3), "{cmd:?}");
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stderr.contains("intervl"), "{stderr}");
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{stderr}"
        );
    }
}

/// Issue 11: `check`'s table into a pipe never shortens names (a fleet's names often differ only
/// in their middle), and `--wide` is accepted.
#[test]
fn the_table_into_a_pipe_keeps_long_names_whole() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "pg-prod-eu-west-1a-orders-shard-0000-primary.db.internal.example.com",
        "pg-prod-eu-west-1a-orders-shard-0008-primary.db.internal.example.com",
    ];
    let mut config = String::from("[probe]\ntimeout = \"2s\"\n");
    for (i, name) in names.iter().enumerate() {
        config.push_str(&format!(
            "\n[[island]]\nno = {i}\n\n[[island.node]]\nname = \"{name}\"\n\
             url = \"postgres://127.0.0.1:1/app\"\nlogin = \"app\"\npassword = \"pw-Zq4k-{i}\"\n"
        ));
    }
    std::fs::write(dir.path().join("rotascope.toml"), config).unwrap();
    for args in [&["check"][..], &["check", "--wide"]] {
        let out = rotascope(args, dir.path());
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}{}", text(&out.stderr));
        for name in names {
            assert!(stdout.contains(name), "{args:?}: {stdout}");
        }
        assert!(!stdout.contains('…'), "{args:?}: {stdout}");
    }
}
