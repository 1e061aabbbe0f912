//! Running the PostgreSQL programs: as the server user, in the lab directory, in a clean
//! environment, with failures turned into [`LabError::Command`] carrying the output's tail.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Output, Stdio};

use super::{LabError, LabShared};
use crate::secret::redact_all;

/// libpq variables that would change what the programs connect to or how.
const PG_ENV: [&str; 14] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATA",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGCONNECT_TIMEOUT",
];

/// Runs `program` (from the lab's binaries) with `args` and extra `env`; `what` names the step in
/// errors. Succeeds only on exit status 0.
pub(crate) async fn run(
    lab: &LabShared,
    what: &str,
    program: &str,
    args: Vec<OsString>,
    env: Vec<(&str, String)>,
) -> Result<Output, LabError> {
    let mut cmd = std::process::Command::new(lab.bins.bin(program));
    cmd.args(args);
    prepare_std(lab, &mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut cmd = tokio::process::Command::from(cmd);
    // A test that gives up (timeout, panic) must not leave pg_basebackup & co. behind.
    cmd.kill_on_drop(true);
    let out = cmd.output().await.map_err(|source| LabError::Io {
        what: format!("{what}: running {program}"),
        source,
    })?;
    if out.status.success() {
        return Ok(out);
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let text = redact_all(&text, [&lab.superuser_password]);
    Err(LabError::Command {
        what: what.to_owned(),
        status: out.status.to_string(),
        output: super::server::tail(text.trim(), 15),
    })
}

/// Sets the user, working directory, stdin and environment of a PostgreSQL program.
pub(crate) fn prepare_std(lab: &LabShared, cmd: &mut std::process::Command) {
    if let Some(who) = lab.run_as {
        cmd.uid(who.uid).gid(who.gid);
    }
    // The server user may not enter our working directory; it owns the lab directory.
    cmd.current_dir(&lab.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in PG_ENV {
        cmd.env_remove(k);
    }
    // English, predictable messages (start failures are recognised by their text).
    cmd.env("LC_ALL", "C").env("LANG", "C");
}
