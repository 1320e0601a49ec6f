//! TLS as redis-sentinel configures it: a server config for `tls-port`
//! (with `tls-auth-clients` deciding whether client certificates are
//! required) and a client config for outbound links under
//! `tls-replication yes`. Certificates, keys and CAs are loaded once at
//! start-up; any failure there is fatal, as Redis's "Failed to configure TLS".

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::server_options::{TlsAuthClients, TlsOptions};

/// Why TLS could not be configured; each message names the file or option
/// at fault, as Redis's log lines do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("No {0} configured!")]
    Missing(&'static str),
    #[error(
        "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!"
    )]
    NoCa,
    #[error("Failed to load certificate: {path}: {reason}")]
    Cert { path: String, reason: String },
    #[error("Failed to load private key: {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("Failed to load CA certificate(s) file/directory: {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("Invalid tls-protocols specified: {0}")]
    Protocols(String),
    #[error("{0}")]
    Rustls(String),
}

/// The TLS side of start-up: what the listeners and the links need.
#[derive(Clone, Default)]
pub struct TlsSetup {
    /// Set when `tls-port` is non-zero.
    pub acceptor: Option<TlsAcceptor>,
    /// Set when `tls-replication yes`: every outbound link uses it.
    pub connector: Option<TlsConnector>,
}

impl TlsSetup {
    /// Loads what `options` ask for; nothing at all when TLS is not used
    /// (neither `tls-port` nor `tls-replication`), as Redis skips TLS
    /// configuration then.
    pub fn load(options: &TlsOptions) -> Result<TlsSetup, TlsError> {
        if options.port == 0 && !options.replication && !options.cluster {
            return Ok(TlsSetup::default());
        }
        let mut setup = TlsSetup::default();
        if options.port != 0 {
            setup.acceptor = Some(TlsAcceptor::from(Arc::new(server_config(options)?)));
        } else {
            // Redis validates the server cert even when it only connects.
            server_identity(options)?;
        }
        if options.replication {
            setup.connector = Some(TlsConnector::from(Arc::new(client_config(options)?)));
        }
        Ok(setup)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file<'a>(options: &'a TlsOptions, name: &str) -> Option<&'a str> {
    options
        .files
        .get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// `tls-protocols` ("TLSv1.2 TLSv1.3"); empty means both. rustls has no
/// TLS 1.0/1.1, so those names alone leave nothing usable.
fn protocol_versions(
    options: &TlsOptions,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
    let Some(list) = file(options, "tls-protocols") else {
        return Ok(rustls::ALL_VERSIONS.to_vec());
    };
    let mut versions = Vec::new();
    for word in list.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            "tlsv1" | "tlsv1.1" => {}
            _ => return Err(TlsError::Protocols(list.to_string())),
        }
    }
    if versions.is_empty() {
        return Err(TlsError::Protocols(list.to_string()));
    }
    Ok(versions)
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Cert {
        path: path.to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(pem_reason(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_reason(&e)))?;
    if certs.is_empty() {
        return Err(err("no certificate found".into()));
    }
    Ok(certs)
}

fn load_key(path: &str, password: Option<&str>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let err = |reason: String| TlsError::Key {
        path: path.to_string(),
        reason,
    };
    if password.is_some() {
        // rustls reads only unencrypted PKCS#8/PKCS#1/SEC1 keys.
        return Err(err("encrypted private keys are not supported".into()));
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| err(pem_reason(&e)))
}

fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM section found".into(),
        other => format!("{other:?}"),
    }
}

/// The CA certificates of `tls-ca-cert-file` and every PEM file of
/// `tls-ca-cert-dir`.
fn load_roots(options: &TlsOptions) -> Result<RootCertStore, TlsError> {
    let ca_file = file(options, "tls-ca-cert-file");
    let ca_dir = file(options, "tls-ca-cert-dir");
    if ca_file.is_none() && ca_dir.is_none() {
        return Err(TlsError::NoCa);
    }
    let mut roots = RootCertStore::empty();
    let mut add = |path: &str, certs: Vec<CertificateDer<'static>>| {
        for c in certs {
            roots.add(c).map_err(|e| TlsError::Ca {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok::<(), TlsError>(())
    };
    if let Some(path) = ca_file {
        let certs = load_certs(path).map_err(|e| as_ca_error(path, e))?;
        add(path, certs)?;
    }
    if let Some(dir) = ca_dir {
        let ca_err = |reason: String| TlsError::Ca {
            path: dir.to_string(),
            reason,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| ca_err(e.to_string()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            // OpenSSL's hashed dirs also hold CRLs and unrelated files:
            // take what parses as certificates, skip the rest.
            if path.is_file() {
                if let Ok(certs) = CertificateDer::pem_file_iter(&path)
                    .map(|it| it.filter_map(Result::ok).collect::<Vec<_>>())
                {
                    add(&path.display().to_string(), certs)?;
                }
            }
        }
    }
    if roots.is_empty() {
        return Err(TlsError::Ca {
            path: ca_file.or(ca_dir).unwrap_or_default().to_string(),
            reason: "no CA certificate found".into(),
        });
    }
    Ok(roots)
}

fn as_ca_error(path: &str, e: TlsError) -> TlsError {
    match e {
        TlsError::Cert { reason, .. } => TlsError::Ca {
            path: path.to_string(),
            reason,
        },
        other => other,
    }
}

/// The server's certificate chain and key (`tls-cert-file`, `tls-key-file`).
fn server_identity(
    options: &TlsOptions,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert = file(options, "tls-cert-file").ok_or(TlsError::Missing("tls-cert-file"))?;
    let key = file(options, "tls-key-file").ok_or(TlsError::Missing("tls-key-file"))?;
    Ok((
        load_certs(cert)?,
        load_key(key, file(options, "tls-key-file-pass"))?,
    ))
}

/// What accepted connections use: our identity, and client certificates
/// as `tls-auth-clients` says.
pub fn server_config(options: &TlsOptions) -> Result<ServerConfig, TlsError> {
    let (certs, key) = server_identity(options)?;
    let verifier: Arc<dyn ClientCertVerifier> = match options.auth_clients {
        TlsAuthClients::No => {
            // Redis still loads the CA when tls-replication needs it.
            Arc::new(NoClientAuth)
        }
        mode => {
            let builder = WebPkiClientVerifier::builder_with_provider(
                Arc::new(load_roots(options)?),
                provider(),
            );
            let builder = if mode == TlsAuthClients::Optional {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?
        }
    };
    ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&protocol_versions(options)?)
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(format!("tls-cert-file/tls-key-file: {e}")))
}

/// What outbound links use: the client cert (or the server cert) as our
/// identity, and the CA to verify peers, ignoring their names.
pub fn client_config(options: &TlsOptions) -> Result<ClientConfig, TlsError> {
    let (certs, key) = match (
        file(options, "tls-client-cert-file"),
        file(options, "tls-client-key-file"),
    ) {
        (Some(cert), Some(key)) => (
            load_certs(cert)?,
            load_key(key, file(options, "tls-client-key-file-pass"))?,
        ),
        _ => server_identity(options)?,
    };
    let roots = Arc::new(load_roots(options)?);
    let provider = provider();
    let verifier = Arc::new(ChainOnlyVerifier {
        roots,
        algorithms: provider.signature_verification_algorithms,
    });
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&protocol_versions(options)?)
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs, key)
        .map_err(|e| TlsError::Rustls(format!("client certificate/key: {e}")))
}

/// The name to put in the ClientHello for `host`. It is never checked
/// against the certificate (see `ChainOnlyVerifier` below); a literal IP sends
/// no SNI, a hostname does.
pub fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("redis").expect("a valid DNS name"))
}

/// Verifies the peer's chain against the CA but accepts any name. Redis
/// does exactly this for replication and sentinel links (OpenSSL's
/// SSL_VERIFY_PEER with no host check): instances are addressed by the IP
/// they report in INFO or hellos, which is rarely a name in their cert, so
/// a name check would break every deployment Redis accepts.
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(port: u16, replication: bool, files: &[(&'static str, &str)]) -> TlsOptions {
        let mut o = TlsOptions {
            port,
            replication,
            ..TlsOptions::default()
        };
        for (k, v) in files {
            o.files.insert(k, v.to_string());
        }
        o
    }

    fn err(o: &TlsOptions) -> String {
        match TlsSetup::load(o) {
            Ok(_) => panic!("loaded TLS from {o:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn nothing_is_loaded_when_tls_is_not_used() {
        let setup = TlsSetup::load(&options(0, false, &[("tls-cert-file", "/nonexistent")]))
            .expect("no TLS, no error");
        assert!(setup.acceptor.is_none() && setup.connector.is_none());
    }

    #[test]
    fn a_tls_port_without_a_certificate_is_refused_with_redis_wording() {
        assert_eq!(
            err(&options(6380, false, &[])),
            "No tls-cert-file configured!"
        );
        assert_eq!(
            err(&options(6380, false, &[("tls-cert-file", "/c")])),
            "No tls-key-file configured!"
        );
    }

    #[test]
    fn a_missing_certificate_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing.crt").display().to_string();
        let e = err(&options(
            6380,
            false,
            &[("tls-cert-file", &path), ("tls-key-file", &path)],
        ));
        assert!(e.starts_with("Failed to load certificate: "), "{e}");
        assert!(e.contains(&path), "{e}");
    }

    #[test]
    fn a_file_without_pem_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.crt");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let path = path.display().to_string();
        let e = err(&options(
            6380,
            false,
            &[("tls-cert-file", &path), ("tls-key-file", &path)],
        ));
        assert!(e.contains("no certificate found"), "{e}");
    }

    #[test]
    fn replication_needs_a_ca_to_verify_peers() {
        assert!(err(&options(0, true, &[])).starts_with("No tls-cert-file"));
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("ca.crt").display().to_string();
        let e = match load_roots(&options(0, true, &[("tls-ca-cert-file", &missing)])) {
            Ok(_) => panic!("loaded a missing CA"),
            Err(e) => e.to_string(),
        };
        assert!(e.starts_with("Failed to load CA certificate(s)"), "{e}");
        assert!(e.contains(&missing), "{e}");
        assert!(matches!(
            load_roots(&options(0, true, &[])),
            Err(TlsError::NoCa)
        ));
    }

    #[test]
    fn tls_protocols_must_name_a_version_rustls_speaks() {
        for (list, ok) in [
            ("TLSv1.2 TLSv1.3", 2),
            ("tlsv1.3", 1),
            ("TLSv1.1", 0),
            ("SSLv3", 0),
        ] {
            let o = options(6380, false, &[("tls-protocols", list)]);
            match protocol_versions(&o) {
                Ok(v) => assert_eq!(v.len(), ok, "{list}"),
                Err(e) => {
                    assert_eq!(ok, 0, "{list}: {e}");
                    assert!(e.to_string().contains(list), "{e}");
                }
            }
        }
    }

    #[test]
    fn ip_hosts_get_ip_server_names_and_bad_names_a_placeholder() {
        assert!(matches!(server_name("127.0.0.1"), ServerName::IpAddress(_)));
        assert!(matches!(server_name("::1"), ServerName::IpAddress(_)));
        assert!(matches!(
            server_name("redis-1.example"),
            ServerName::DnsName(_)
        ));
        assert!(matches!(server_name("bad name!"), ServerName::DnsName(_)));
    }
}
