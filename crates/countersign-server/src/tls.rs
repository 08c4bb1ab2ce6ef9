//! TLS served directly (SPEC §8): a PEM certificate chain and private key, TLS 1.2 and 1.3
//! only (rustls with the ring provider), HTTP/1.1 announced by ALPN.
//!
//! The current configuration sits behind a lock that each new connection reads once; a reload
//! re-reads both files and swaps the configuration only when they parse and the key matches the
//! certificate. A connection keeps the configuration it was accepted with, so a reload never
//! touches an open connection.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Where the certificate chain and its private key are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("{} holds no valid PEM {what}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// `certificate` or `private key`.
        what: &'static str,
    },
    /// rustls refused the pair (most often: the key does not match the certificate).
    #[error("the certificate and key cannot be used together")]
    Config(#[source] rustls::Error),
}

/// The TLS configuration a server hands new connections, swappable while it serves.
#[derive(Debug)]
pub struct Tls {
    files: TlsFiles,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl Tls {
    /// Reads the files once.
    ///
    /// # Errors
    /// Fails when a file is unreadable, not PEM, or the key does not match the certificate.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let config = server_config(&files)?;
        Ok(Self {
            files,
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// The files this configuration is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Re-reads both files; new connections use them from now on. On failure the previous
    /// certificate stays in use.
    ///
    /// # Errors
    /// Fails like [`Tls::load`]; nothing is swapped then.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.files)?);
        match self.current.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        Ok(())
    }

    /// The acceptor for a connection accepted now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        tokio_rustls::TlsAcceptor::from(config)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|chain| !chain.is_empty())
        .ok_or_else(|| TlsError::Pem {
            path: files.cert.clone(),
            what: "certificate",
        })?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Pem {
        path: files.key.clone(),
        what: "private key",
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        // Fails when the key does not match the leaf certificate.
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The ring provider: it builds without cmake or a C toolchain beyond `cc`. Its key exchanges
/// are X25519 and the NIST curves (no post-quantum hybrid), which rustls now marks deprecated.
#[expect(deprecated, reason = "ring keeps the build free of aws-lc; see above")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
