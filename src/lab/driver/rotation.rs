//! The rotation schemes as a pure state machine: which password changes, what the secrets file
//! says, and in what order with what pauses. No I/O here, so the order is unit-tested; the
//! [`Driver`](super::Driver) carries the steps out.
//!
//! # Alternating users (`app_a`, `app_b`)
//! The secrets file lists the current login first and the previous one second. A rotation gives
//! the *previous* login a new password in the database (the current one keeps working, so no
//! client is cut off), then, `config_lag` later, the file names it current with its new password
//! and the other login previous. In between, the file's entry for the rotated login is stale:
//! that candidate is invalid and every node is `degraded`. A client whose winner was the rotated
//! login (the remembered best of every rotation after the first) fails over to the other login.
//!
//! # One login, two passwords (`app`)
//! PostgreSQL keeps one password per role, and so does PgBouncer with `auth_query`: the pooler
//! reads the role's one verifier from `pg_shadow` at each login, so a password set in the
//! database is live at the pooler at once (no `userlist.txt` to update in between). The "two
//! passwords" of this scheme are therefore two versions of one login's secret, as a secret store
//! holds them during a single-user rotation (AWS Secrets Manager: `AWSCURRENT` and
//! `AWSPENDING`); a client tries both, the server accepts one. Changing the database first would
//! leave every client without a working password until the file caught up (`down`, not
//! degraded), so a rotation runs in the order that keeps the login working:
//! 1. the file lists `[current, next]` (the new password is published; `next` is invalid:
//!    `degraded`);
//! 2. `config_lag` later the database switches to `next` (`current` becomes invalid, the winner
//!    moves to `next`);
//! 3. `config_lag` later the file lists `[next]` only, as `current` (`ok` again).

use std::time::Duration;

use crate::secret::Password;

/// How the lab rotates credentials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    /// Two logins; the previous one gets a new password, then the secrets file follows.
    #[default]
    Alternating,
    /// One login; the secrets file lists its current and next password during a rotation.
    Single,
}

/// The two logins of the alternating scheme.
pub const ALTERNATING_LOGINS: [&str; 2] = ["app_a", "app_b"];

/// The login of the single-login scheme.
pub const SINGLE_LOGIN: &str = "app";

/// One entry of the secrets file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretEntry {
    /// Login.
    pub login: String,
    /// Password (written to the file, never printed).
    pub password: Password,
    /// `current`, `previous` or `next`.
    pub label: &'static str,
}

impl SecretEntry {
    fn new(login: &str, password: &Password, label: &'static str) -> Self {
        SecretEntry {
            login: login.to_owned(),
            password: password.clone(),
            label,
        }
    }
}

/// One thing a rotation does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Set `login`'s password in the database, on every island's master (replicas follow by
    /// streaming).
    SetPassword {
        /// The role.
        login: String,
        /// Its new password.
        password: Password,
    },
    /// Replace the secrets file with these entries.
    WriteSecrets(Vec<SecretEntry>),
}

/// The credentials of both schemes and which one is rotated.
#[derive(Clone, Debug)]
pub struct Rotation {
    scheme: Scheme,
    /// `app_a` and `app_b`'s passwords.
    pair: [Password; 2],
    /// Index into `pair` of the login the file calls current.
    current: usize,
    /// `app`'s password.
    single: Password,
    /// Rotations planned so far.
    count: u64,
}

impl Rotation {
    /// Fresh credentials for both schemes, each password from `new_password`.
    pub fn new(scheme: Scheme, mut new_password: impl FnMut() -> Password) -> Self {
        Rotation {
            scheme,
            pair: [new_password(), new_password()],
            current: 0,
            single: new_password(),
            count: 0,
        }
    }

    /// The scheme rotated.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// How many rotations were planned.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Every role both schemes need, with its password now (created once, at the start).
    pub fn roles(&self) -> Vec<(&'static str, &Password)> {
        vec![
            (ALTERNATING_LOGINS[0], &self.pair[0]),
            (ALTERNATING_LOGINS[1], &self.pair[1]),
            (SINGLE_LOGIN, &self.single),
        ]
    }

    /// What the secrets file lists between rotations.
    pub fn secrets(&self) -> Vec<SecretEntry> {
        match self.scheme {
            Scheme::Alternating => {
                let (cur, prev) = (self.current, 1 - self.current);
                vec![
                    SecretEntry::new(ALTERNATING_LOGINS[cur], &self.pair[cur], "current"),
                    SecretEntry::new(ALTERNATING_LOGINS[prev], &self.pair[prev], "previous"),
                ]
            }
            Scheme::Single => vec![SecretEntry::new(SINGLE_LOGIN, &self.single, "current")],
        }
    }

    /// Plans the next rotation: its steps, each with its delay from the start of the rotation.
    /// The state moves on at once; carry every step out before planning the next rotation.
    pub fn rotate(&mut self, lag: Duration, new_password: Password) -> Vec<(Duration, Step)> {
        self.count += 1;
        match self.scheme {
            Scheme::Alternating => {
                let target = 1 - self.current;
                self.pair[target] = new_password.clone();
                self.current = target;
                vec![
                    (
                        Duration::ZERO,
                        Step::SetPassword {
                            login: ALTERNATING_LOGINS[target].to_owned(),
                            password: new_password,
                        },
                    ),
                    (lag, Step::WriteSecrets(self.secrets())),
                ]
            }
            Scheme::Single => {
                let old = std::mem::replace(&mut self.single, new_password.clone());
                vec![
                    (
                        Duration::ZERO,
                        Step::WriteSecrets(vec![
                            SecretEntry::new(SINGLE_LOGIN, &old, "current"),
                            SecretEntry::new(SINGLE_LOGIN, &new_password, "next"),
                        ]),
                    ),
                    (
                        lag,
                        Step::SetPassword {
                            login: SINGLE_LOGIN.to_owned(),
                            password: new_password,
                        },
                    ),
                    (lag * 2, Step::WriteSecrets(self.secrets())),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> Password {
        let mut n = 0;
        move || {
            n += 1;
            Password::new(format!("pw{n}"))
        }
    }

    fn listed(entries: &[SecretEntry]) -> Vec<(String, String, &'static str)> {
        entries
            .iter()
            .map(|e| (e.login.clone(), e.password.expose().to_owned(), e.label))
            .collect()
    }

    fn s(login: &str, pw: &str, label: &'static str) -> (String, String, &'static str) {
        (login.to_owned(), pw.to_owned(), label)
    }

    const LAG: Duration = Duration::from_secs(3);

    #[test]
    fn every_role_of_both_schemes_exists_from_the_start() {
        let r = Rotation::new(Scheme::Single, counter());
        let roles: Vec<(&str, &str)> = r.roles().iter().map(|(l, p)| (*l, p.expose())).collect();
        assert_eq!(roles, [("app_a", "pw1"), ("app_b", "pw2"), ("app", "pw3")]);
    }

    #[test]
    fn alternating_rotates_the_previous_login_then_the_file_follows() {
        let mut next = counter();
        let mut r = Rotation::new(Scheme::Alternating, &mut next);
        assert_eq!(
            listed(&r.secrets()),
            [s("app_a", "pw1", "current"), s("app_b", "pw2", "previous")]
        );

        let steps = r.rotate(LAG, next());
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0],
            (
                Duration::ZERO,
                Step::SetPassword {
                    login: "app_b".into(),
                    password: Password::new("pw4")
                }
            )
        );
        let (delay, Step::WriteSecrets(file)) = &steps[1] else {
            panic!("the file follows the database")
        };
        assert_eq!(*delay, LAG);
        assert_eq!(
            listed(file),
            [s("app_b", "pw4", "current"), s("app_a", "pw1", "previous")]
        );

        // The next rotation changes the other login: the one the file just called previous.
        let steps = r.rotate(LAG, next());
        assert!(
            matches!(&steps[0].1, Step::SetPassword { login, .. } if login == "app_a"),
            "{steps:?}"
        );
        assert_eq!(
            listed(&r.secrets()),
            [s("app_a", "pw5", "current"), s("app_b", "pw4", "previous")]
        );
        assert_eq!(r.count(), 2);
    }

    #[test]
    fn single_publishes_the_next_password_before_the_database_and_drops_the_old_after() {
        let mut next = counter();
        let mut r = Rotation::new(Scheme::Single, &mut next);
        assert_eq!(listed(&r.secrets()), [s("app", "pw3", "current")]);

        let steps = r.rotate(LAG, next());
        let delays: Vec<Duration> = steps.iter().map(|(d, _)| *d).collect();
        assert_eq!(delays, [Duration::ZERO, LAG, LAG * 2]);
        let Step::WriteSecrets(window) = &steps[0].1 else {
            panic!("publish first")
        };
        assert_eq!(
            listed(window),
            [s("app", "pw3", "current"), s("app", "pw4", "next")]
        );
        assert_eq!(
            steps[1].1,
            Step::SetPassword {
                login: "app".into(),
                password: Password::new("pw4")
            }
        );
        let Step::WriteSecrets(after) = &steps[2].1 else {
            panic!("then the file drops the old password")
        };
        assert_eq!(listed(after), [s("app", "pw4", "current")]);
        assert_eq!(listed(&r.secrets()), [s("app", "pw4", "current")]);
    }

    #[test]
    fn steps_never_print_a_password() {
        let mut r = Rotation::new(Scheme::Single, counter());
        let steps = r.rotate(LAG, Password::new("hunter2-secret"));
        let text = format!("{steps:?} {r:?}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(!text.contains("pw3"), "{text}");
    }
}
