//! TLS for `wss://`: a rustls acceptor from PEM files, or a self-signed development
//! certificate generated at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Names the development certificate is valid for: what a local client dials.
const DEV_CERT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read certificate file {path}: {source}")]
    Certificate {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("certificate file {0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("could not read private key file {path}: {source}")]
    Key {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("certificate and key do not make a valid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("could not generate a development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("could not write the development certificate to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A development certificate written to disk for clients to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCertificate {
    /// The PEM certificate clients should trust (`ticksync-sim --ca-cert PATH`).
    pub path: PathBuf,
    /// SHA-256 of the certificate's DER encoding, as colon-separated hex.
    pub sha256: String,
}

/// An acceptor for the certificate chain and key in two PEM files.
pub(crate) fn acceptor_from_pem(
    cert_path: &Path,
    key_path: &Path,
) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|iter| iter.collect())
        .map_err(|source| TlsError::Certificate {
            path: cert_path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|source| TlsError::Key {
        path: key_path.to_owned(),
        source,
    })?;
    acceptor(certs, key)
}

/// Generates a self-signed certificate for localhost, writes it (PEM) to `path`, and returns
/// an acceptor for it with the certificate's fingerprint.
pub fn dev_acceptor(path: &Path) -> Result<(TlsAcceptor, DevCertificate), TlsError> {
    let names: Vec<String> = DEV_CERT_NAMES
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    let generated = rcgen::generate_simple_self_signed(names)?;
    std::fs::write(path, generated.cert.pem()).map_err(|source| TlsError::Write {
        path: path.to_owned(),
        source,
    })?;
    let der = generated.cert.der().clone();
    let sha256 = fingerprint(&der);
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|message| TlsError::Config(rustls::Error::General(message.to_owned())))?;
    let acceptor = acceptor(vec![der], key)?;
    Ok((
        acceptor,
        DevCertificate {
            path: path.to_owned(),
            sha256,
        },
    ))
}

fn acceptor(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// SHA-256 of a certificate, as `AB:CD:…`.
fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certificate_is_written_and_reloads() {
        let dir = std::env::temp_dir().join(format!("ticksync-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_path = dir.join("cert.pem");
        let (_, cert) = dev_acceptor(&cert_path).unwrap();
        assert_eq!(cert.sha256.len(), 32 * 3 - 1);
        let pem = std::fs::read_to_string(&cert_path).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_files_name_the_path() {
        let Err(error) = acceptor_from_pem(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        ) else {
            panic!("missing files must be an error");
        };
        assert!(
            error.to_string().contains("/nonexistent/cert.pem"),
            "{error}"
        );
    }
}
