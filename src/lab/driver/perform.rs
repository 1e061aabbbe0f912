//! Carrying out the driver's scheduled work: rotation steps, failover steps, and passwords an
//! island owes because it had no master when they were set.

use super::{Action, Driver, Owed, Scheme, Step, CONFIG_FILE, FAILOVER_PAUSE};
use crate::lab::PoolerAuth;
use crate::secret::Password;

impl Driver {
    pub(super) async fn perform(&mut self, action: Action) {
        match action {
            Action::Rotation {
                no,
                step: Step::SetPassword { login, password },
            } => self.set_password(no, login, password).await,
            Action::Rotation {
                no,
                step: Step::WriteSecrets(entries),
            } => {
                let listed: Vec<String> = entries
                    .iter()
                    .map(|e| format!("{} ({})", e.login, e.label))
                    .collect();
                let file = self.secrets_file_name();
                match self.write_secrets(entries) {
                    Ok(()) => self.note(&format!(
                        "rotation {no}: {file} now lists {}",
                        listed.join(", ")
                    )),
                    Err(e) => self.note(&format!("rotation {no}: {e}")),
                }
            }
            Action::SyncPoolers { no } => match self.cluster.sync_poolers().await {
                Ok(done) if !done.is_empty() => self.note(&format!(
                    "rotation {no}: pgbouncer of island {} copied the verifiers into its \
                     auth_file and reloaded",
                    list(&done)
                )),
                Ok(_) => self.note(&format!(
                    "rotation {no}: no island has a master to copy the verifiers from"
                )),
                Err(e) => self.note(&format!("rotation {no}: syncing the poolers: {e}")),
            },
            Action::StopMaster(island) => match self.cluster.masters(island).await.first() {
                Some(&node) => match self.cluster.stop(node).await {
                    Ok(()) => self.note(&format!(
                        "failover of island {island}: master {node} stopped; promoting a \
                         replica in {}s",
                        FAILOVER_PAUSE.as_secs()
                    )),
                    Err(e) => self.note(&format!("failover of island {island}: {e}")),
                },
                None => self.note(&format!(
                    "failover of island {island}: it has no master to stop"
                )),
            },
            Action::PromoteReplica(island) => match self.cluster.first_replica(island).await {
                Some(node) => match self.cluster.promote(node).await {
                    Ok(()) => self.note(&format!(
                        "failover of island {island}: {node} promoted to master"
                    )),
                    Err(e) => self.note(&format!("failover of island {island}: {e}")),
                },
                None => self.note(&format!(
                    "failover of island {island}: no running replica to promote"
                )),
            },
            Action::Rebuild(island) => match self.cluster.rebuild(island).await {
                Ok((removed, added)) => {
                    let written = self.write_config();
                    self.note(&format!(
                        "failover of island {island}: removed [{}], added replica [{}]{}",
                        removed.join(", "),
                        added.join(", "),
                        match written {
                            Ok(()) => format!("; {CONFIG_FILE} rewritten"),
                            Err(e) => format!("; {e}"),
                        }
                    ));
                }
                Err(e) => self.note(&format!("failover of island {island}: {e}")),
            },
        }
    }

    /// Sets a rotated password on every island's master; an island without one owes it.
    async fn set_password(&mut self, no: u64, login: String, password: Password) {
        let mut done = Vec::new();
        for island in 0..self.cluster.island_count() {
            // A newer password for the same login replaces an older debt.
            self.owed
                .retain(|o| !(o.island == island && o.login == login));
            match self.cluster.set_password(island, &login, &password).await {
                Ok(0) => {
                    self.note(&format!(
                        "rotation {no}: island {island} has no master; {login}'s new password \
                         is set there when it has one"
                    ));
                    self.owed.push(Owed {
                        island,
                        login: login.clone(),
                        password: password.clone(),
                    });
                }
                Ok(_) => done.push(island.to_string()),
                Err(e) => {
                    self.note(&format!("rotation {no}: island {island}: {e}; will retry"));
                    self.owed.push(Owed {
                        island,
                        login: login.clone(),
                        password: password.clone(),
                    });
                }
            }
        }
        if !done.is_empty() {
            let mut follows = match self.rotation.scheme() {
                Scheme::Alternating => format!(
                    "; {} follows in {}",
                    self.secrets_file_name(),
                    humantime::format_duration(self.settings.config_lag)
                ),
                Scheme::Single => String::new(),
            };
            if let Some(pooler) = self.settings.pooler {
                if pooler.auth == PoolerAuth::File {
                    // The pooler's copy of the verifiers lags: the auth_file trap, on purpose.
                    self.schedule(
                        tokio::time::Instant::now() + pooler.lag,
                        Action::SyncPoolers { no },
                    );
                    follows.push_str(&format!(
                        "; pgbouncer's auth_file in {}",
                        humantime::format_duration(pooler.lag)
                    ));
                }
            }
            self.note(&format!(
                "rotation {no}: new password for {login} in the database (island {}){follows}",
                done.join(", ")
            ));
        }
    }

    /// Sets owed passwords on islands that have a master again.
    pub(super) async fn settle_owed(&mut self) {
        for owed in std::mem::take(&mut self.owed) {
            match self
                .cluster
                .set_password(owed.island, &owed.login, &owed.password)
                .await
            {
                Ok(n) if n > 0 => self.note(&format!(
                    "island {} has a master again: {}'s new password is set",
                    owed.island, owed.login
                )),
                _ => self.owed.push(owed),
            }
        }
    }
}

/// `0, 1`.
pub(super) fn list(islands: &[usize]) -> String {
    islands
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
