//! Where `serve` listens. Loopback by default; any other address only when asked for in so many
//! words (`--allow-remote`), since `/metrics` and `/snapshot` tell whoever connects the node
//! names, logins and fingerprints of the config (never a password), and the endpoints carry no
//! authentication of their own (put them behind a network policy, or a TLS and auth proxy).

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Why `serve` cannot listen where it was told to.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A non-loopback address without `--allow-remote`.
    #[error(
        "--listen {0}: not a loopback address; /metrics and /snapshot would be open to other \
         hosts (node names, logins and fingerprints, no authentication). Add --allow-remote to \
         mean it, e.g. in a container"
    )]
    Remote(SocketAddr),
    /// The bind failed (address in use, not ours, no permission).
    #[error("--listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
}

/// True when `addr` may be bound: a loopback address (`127.0.0.0/8`, `::1`), or any address with
/// `allow_remote`. The unspecified addresses (`0.0.0.0`, `::`) are every interface: remote.
pub fn permitted(addr: SocketAddr, allow_remote: bool) -> Result<(), ListenError> {
    if allow_remote || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ListenError::Remote(addr))
    }
}

/// Binds `addr` once [`permitted`] allows it.
pub async fn bind(addr: SocketAddr, allow_remote: bool) -> Result<TcpListener, ListenError> {
    permitted(addr, allow_remote)?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_the_flag() {
        for ok in ["127.0.0.1:9187", "127.1.2.3:80", "[::1]:9187"] {
            assert!(permitted(ok.parse().unwrap(), false).is_ok(), "{ok}");
        }
        for remote in [
            "0.0.0.0:9187",
            "[::]:9187",
            "10.0.0.5:9187",
            "192.168.1.2:1",
        ] {
            let addr: SocketAddr = remote.parse().unwrap();
            let err = permitted(addr, false).unwrap_err();
            assert!(err.to_string().contains("--allow-remote"), "{err}");
            assert!(permitted(addr, true).is_ok());
        }
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error_naming_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr, false).await.unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("--listen {addr}: ")),
            "{err}"
        );
        assert!(bind(addr, false).await.is_err());
        let remote = bind("0.0.0.0:0".parse().unwrap(), false).await.unwrap_err();
        assert!(matches!(remote, ListenError::Remote(_)));
    }
}
