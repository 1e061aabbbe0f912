//! Signals for long-running commands, in a process of their own (signal handlers are global).
//!
//! Given registered handlers, when the process gets SIGHUP the engine is asked to reload, and
//! SIGINT / SIGTERM / SIGQUIT cancel the shutdown token instead of killing the process.

use std::time::Duration;

use rotascope::cli::signals::Signals;
use rotascope::engine::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(10);

fn raise(sig: libc::c_int) {
    // SAFETY: raise only sends a signal to this process; handlers are registered first.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_reloads_and_interrupt_or_terminate_stop_cleanly() {
    // One test, in order: the handlers are process-wide.
    let (tx, mut rx) = mpsc::channel(4);
    let shutdown = CancellationToken::new();
    let task = Signals::register()
        .unwrap()
        .spawn(Some(tx), shutdown.clone());

    raise(libc::SIGHUP);
    let got = tokio::time::timeout(DEADLINE, rx.recv()).await.unwrap();
    assert_eq!(got, Some(Command::Reload));
    assert!(!shutdown.is_cancelled(), "SIGHUP must not stop watch");

    raise(libc::SIGINT);
    tokio::time::timeout(DEADLINE, shutdown.cancelled())
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();

    // SIGTERM, SIGQUIT, and SIGHUP without a reload target (the TUI), all stop.
    for sig in [libc::SIGTERM, libc::SIGQUIT, libc::SIGHUP] {
        let shutdown = CancellationToken::new();
        let task = Signals::register().unwrap().spawn(None, shutdown.clone());
        raise(sig);
        tokio::time::timeout(DEADLINE, shutdown.cancelled())
            .await
            .unwrap();
        tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn the_signal_task_ends_with_the_token() {
    let (tx, _rx) = mpsc::channel(1);
    let shutdown = CancellationToken::new();
    let task = Signals::register()
        .unwrap()
        .spawn(Some(tx), shutdown.clone());
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
}
