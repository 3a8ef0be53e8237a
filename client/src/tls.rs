//! TLS for `wss://` servers: a rustls client configuration (ring provider) that trusts a
//! private CA from a PEM file (`--ca-cert`), or — for tests against self-signed servers
//! only — any certificate at all (`--insecure`).
//!
//! No public root store is built in (that would add a dependency on webpki-roots); a server
//! behind a public CA is reached with `--ca-cert` pointing at the system bundle, e.g.
//! `/etc/ssl/certs/ca-certificates.crt`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore};

/// The TLS configuration a [`crate::Client`] connects `wss://` URLs with; shared by all bots.
pub type TlsConfig = Arc<ClientConfig>;

/// Whom to trust.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// Certificates issued by the CA(s) in this PEM file.
    CaFile(PathBuf),
    /// Any certificate, unchecked. For self-signed test servers only: it gives up all
    /// protection against an impostor.
    Insecure,
    /// Nothing configured: [`tls_config`] returns `None`.
    #[default]
    Default,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read CA certificates from {path}: {message}")]
    ReadCa { path: PathBuf, message: String },
    #[error("{0} holds no PEM certificate")]
    NoCertificates(PathBuf),
    #[error("a certificate in {path} is not usable as a trust anchor: {source}")]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("could not set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls configuration for `trust`; `None` for [`TlsTrust::Default`].
pub fn tls_config(trust: &TlsTrust) -> Result<Option<TlsConfig>, TlsError> {
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let config = match trust {
        TlsTrust::Default => return Ok(None),
        TlsTrust::CaFile(path) => builder
            .with_root_certificates(read_roots(path)?)
            .with_no_client_auth(),
        TlsTrust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
            .with_no_client_auth(),
    };
    Ok(Some(Arc::new(config)))
}

fn read_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let read_error = |message: String| TlsError::ReadCa {
        path: path.to_owned(),
        message,
    };
    let mut roots = RootCertStore::empty();
    let certificates =
        CertificateDer::pem_file_iter(path).map_err(|e| read_error(e.to_string()))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| read_error(e.to_string()))?;
        roots
            .add(certificate)
            .map_err(|source| TlsError::BadCertificate {
                path: path.to_owned(),
                source,
            })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificates(path.to_owned()));
    }
    Ok(roots)
}

/// `--insecure`: accepts any certificate for any name, but still checks that the server
/// holds the key of the certificate it presented (handshake signatures).
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_trust_needs_no_config() {
        assert!(tls_config(&TlsTrust::Default).unwrap().is_none());
    }

    #[test]
    fn insecure_builds_a_config_that_accepts_any_certificate() {
        let config = tls_config(&TlsTrust::Insecure).unwrap().unwrap();
        assert!(!config.crypto_provider().cipher_suites.is_empty());
        let verifier = AcceptAnyCertificate {
            provider: Arc::clone(config.crypto_provider()),
        };
        let name = ServerName::try_from("impostor.example").unwrap();
        let junk = CertificateDer::from(vec![1, 2, 3]);
        assert!(verifier
            .verify_server_cert(&junk, &[], &name, &[], UnixTime::now())
            .is_ok());
        assert!(!verifier.supported_verify_schemes().is_empty());
    }

    #[test]
    fn a_pem_ca_file_becomes_the_trust_anchor() {
        let dir = std::env::temp_dir().join(format!("ticksync-sim-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ca.pem");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let config = tls_config(&TlsTrust::CaFile(path)).unwrap();
        assert!(config.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_error() {
        let missing = tls_config(&TlsTrust::CaFile("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/ca.pem"),
            "{missing}"
        );

        let dir = std::env::temp_dir().join(format!("ticksync-sim-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = tls_config(&TlsTrust::CaFile(empty.clone())).unwrap_err();
        assert!(matches!(error, TlsError::NoCertificates(_)), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
