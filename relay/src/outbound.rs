//! Requests the relay makes to other servers: webhook receivers, identity providers and the
//! recordings' object store.
//!
//! Webhook and provider URLs are typed by organisation admins, so by default they must use
//! `https` and may not
//! reach private, loopback or link-local addresses (the name is resolved, checked, and that very
//! address is dialled, so DNS cannot be swapped in between); a relay that allows private targets
//! (tests, single-host and LAN setups) lifts both rules. Answers are read up to a size limit,
//! and a request with its answer has [`TIMEOUT`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use crate::addr::is_public;
use crate::error::{Error, Result};

/// Longest a server may take to answer a request in full.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a URL's form: `https://host[:port]/path` (or `http` when private targets are
/// allowed); `what` names it in errors. The address is checked when it is dialled.
pub fn check_url(url: &str, allow_private: bool, what: &str) -> Result<Uri> {
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::BadRequest(format!("the {what} is not a URL")))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_private => {}
        _ => return Err(Error::BadRequest(format!("the {what} must use https"))),
    }
    if uri.host().is_none_or(str::is_empty) || url.len() > 2048 {
        return Err(Error::BadRequest(format!("the {what} needs a host")));
    }
    Ok(uri)
}

/// The address to dial for `uri`: the first resolved address the rules allow.
pub async fn resolve(uri: &Uri, allow_private: bool) -> Result<SocketAddr> {
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Error::BadRequest(format!("cannot resolve {host}: {e}")))?;
    let mut refused = None;
    for a in addrs {
        if allow_private || is_public(a.ip()) {
            return Ok(a);
        }
        refused = Some(a.ip());
    }
    Err(Error::BadRequest(match refused {
        Some(ip) => format!("{host} resolves to {ip}, a private address"),
        None => format!("{host} has no address"),
    }))
}

/// An HTTP/1.1 client under the rules above, trusting the system's certificate authorities.
#[derive(Clone)]
pub struct Outbound {
    tls: tokio_rustls::TlsConnector,
    allow_private: bool,
}

impl Outbound {
    /// A client; `allow_private` lifts the `https` and public-address rules.
    pub fn new(allow_private: bool) -> Outbound {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            // A malformed system certificate is skipped, as browsers do.
            let _ = roots.add(c);
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Outbound {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            allow_private,
        }
    }

    /// Whether private targets are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Sends `req` (its URI absolute) and reads the answer, at most `max_body` bytes of it;
    /// `what` names the URL in errors.
    pub async fn send(
        &self,
        req: Request<Vec<u8>>,
        max_body: usize,
        what: &str,
    ) -> Result<Response<Vec<u8>>> {
        self.send_within(req, max_body, what, TIMEOUT).await
    }

    /// [`Outbound::send`] with its own time limit (a large upload needs longer).
    pub async fn send_within(
        &self,
        req: Request<Vec<u8>>,
        max_body: usize,
        what: &str,
        limit: Duration,
    ) -> Result<Response<Vec<u8>>> {
        tokio::time::timeout(limit, self.exchange(req, max_body, what))
            .await
            .map_err(|_| Error::Internal(format!("the {what} did not answer within {limit:?}")))?
    }

    async fn exchange(
        &self,
        req: Request<Vec<u8>>,
        max_body: usize,
        what: &str,
    ) -> Result<Response<Vec<u8>>> {
        let uri = check_url(&req.uri().to_string(), self.allow_private, what)?;
        let addr = resolve(&uri, self.allow_private).await?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| Error::Internal(format!("connecting to {addr}: {e}")))?;
        // HTTP/1.1 on the wire: the path in the request line, the authority in `Host`.
        let (mut parts, body) = req.into_parts();
        parts.uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|_| Error::BadRequest(format!("the {what} has no path")))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        parts.headers.insert(
            axum::http::header::HOST,
            host.parse()
                .map_err(|_| Error::BadRequest(format!("the {what} has a bad host")))?,
        );
        parts
            .headers
            .entry(axum::http::header::USER_AGENT)
            .or_insert(axum::http::HeaderValue::from_static(concat!(
                "tether-relay/",
                env!("CARGO_PKG_VERSION")
            )));
        let req = Request::from_parts(parts, Full::new(axum::body::Bytes::from(body)));
        if uri.scheme_str() == Some("https") {
            let name = rustls_pki_types::ServerName::try_from(
                uri.host()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_owned(),
            )
            .map_err(|e| Error::BadRequest(e.to_string()))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Internal(format!("TLS with {addr}: {e}")))?;
            exchange_on(TokioIo::new(tls), req, max_body).await
        } else {
            exchange_on(TokioIo::new(tcp), req, max_body).await
        }
    }
}

async fn exchange_on<T>(
    io: T,
    req: Request<Full<axum::body::Bytes>>,
    max_body: usize,
) -> Result<Response<Vec<u8>>>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Error::Internal(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| Error::Internal(format!("HTTP: {e}")))?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, max_body)
        .collect()
        .await
        .map_err(|e| Error::Internal(format!("reading the answer: {e}")))?
        .to_bytes()
        .to_vec();
    Ok(Response::from_parts(parts, body))
}
