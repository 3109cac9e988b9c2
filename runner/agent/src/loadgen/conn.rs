//! The load generator's HTTP/1.1 client: each worker owns its connections (at most one per
//! replica) and drives them inside its own task, so a request costs no task spawn, no pool
//! lookup and no hand-off between tasks.

use std::pin::{Pin, pin};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chaos_report::Cause;
use futures::FutureExt;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Counters;
use crate::wire;

/// What every request of one workload looks like, built once.
#[derive(Debug, Clone)]
pub(super) struct Target {
    method: Method,
    uri: Uri,
    endpoint_name: HeaderName,
    endpoint: Option<HeaderValue>,
    /// The workload's priority, absent for 0.
    priority: Option<HeaderValue>,
}

impl Target {
    /// The request for endpoint `name` at `priority`, as [`crate::exec::outbound`] sends it
    /// between agents.
    pub(super) fn new(name: &str, priority: u8) -> Target {
        let (method, path) = wire::method_and_path(name);
        Target {
            method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::POST),
            uri: path.parse().unwrap_or_else(|_| Uri::from_static("/")),
            endpoint_name: HeaderName::from_static(wire::ENDPOINT_HEADER),
            endpoint: HeaderValue::from_str(name).ok(),
            priority: wire::priority_value(priority),
        }
    }

    fn request(&self, host: &HeaderValue) -> Request<Empty<Bytes>> {
        let mut r = Request::new(Empty::new());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        let h = r.headers_mut();
        h.insert(HOST, host.clone());
        if let Some(v) = &self.endpoint {
            h.insert(self.endpoint_name.clone(), v.clone());
        }
        if let Some(p) = &self.priority {
            h.insert(HeaderName::from_static(wire::PRIORITY_HEADER), p.clone());
        }
        r
    }
}

/// One worker's open connections, by replica URL.
#[derive(Default)]
pub(super) struct Conns {
    open: Vec<Open>,
    /// A connection this old is closed before its next request and a new one opened (`None`:
    /// kept as long as it lives). Behind a Service, kube-proxy balances connections, not
    /// requests: without a lifetime, Pods added by autoscaling would never get any traffic.
    lifetime: Option<Duration>,
}

struct Open {
    url: String,
    opened: Instant,
    host: HeaderValue,
    sender: SendRequest<Empty<Bytes>>,
    conn: Pin<Box<Connection<TokioIo<TcpStream>, Empty<Bytes>>>>,
    /// Set while an exchange is under way: still set at the next one means the last was
    /// abandoned (a client timeout) mid-answer, so the connection is in an unknown state.
    busy: bool,
    /// The connection task ended (the server closed it): never poll it again.
    closed: bool,
}

enum SendError {
    /// The request was never written: the connection had closed (idle close, restart).
    NotSent,
    /// The connection broke with the request on it.
    Broken,
}

impl Conns {
    pub(super) fn with_lifetime(lifetime: Option<Duration>) -> Conns {
        Conns {
            open: Vec::new(),
            lifetime,
        }
    }

    /// One exchange with the replica at `url` (`http://host:port`): the status and the cause it
    /// named, or the cause of a transport failure (as [`crate::exec::classify`] maps reqwest's).
    /// Dropping the future (a timeout) abandons the connection.
    pub(super) async fn exchange(
        &mut self,
        url: &str,
        target: &Target,
        counters: &Counters,
    ) -> Result<(u16, Option<Cause>), Cause> {
        // A request that finds its kept-alive connection closed is sent again on a new one, as
        // reqwest's pool does: the server never saw it.
        let mut retried = false;
        loop {
            let i = match self.usable(url) {
                Some(i) => i,
                None => {
                    let o = connect(url).await.map_err(|()| Cause::Connection)?;
                    counters.connections.fetch_add(1, Ordering::Relaxed);
                    self.open.push(o);
                    self.open.len() - 1
                }
            };
            let Some(o) = self.open.get_mut(i) else {
                return Err(Cause::Connection);
            };
            o.busy = true;
            match o.send(target).await {
                Ok((status, cause, hop)) => {
                    o.busy = false;
                    if let Some(hop) = hop {
                        counters
                            .hop
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .record_s(hop);
                    }
                    return Ok((status, cause));
                }
                Err(SendError::NotSent) if !retried => {
                    self.open.swap_remove(i);
                    retried = true;
                }
                Err(SendError::NotSent) => {
                    self.open.swap_remove(i);
                    return Err(Cause::Connection);
                }
                Err(SendError::Broken) => {
                    self.open.swap_remove(i);
                    return Err(Cause::Killed);
                }
            }
        }
    }

    /// The index of a live connection to `url`, dropping dead or abandoned ones on the way.
    fn usable(&mut self, url: &str) -> Option<usize> {
        let i = self.open.iter().position(|o| o.url == url)?;
        let o = &mut self.open[i];
        // Polling an idle connection once notices a close without waiting on the socket.
        let expired = self.lifetime.is_some_and(|l| o.opened.elapsed() >= l);
        let dead = expired || o.busy || o.closed || o.conn.as_mut().now_or_never().is_some();
        if dead {
            self.open.swap_remove(i);
            return None;
        }
        Some(i)
    }
}

impl Open {
    /// One exchange: the status, the cause the answer named, and what the hop cost
    /// ([`wire::hop_s`]: the time from writing the request to the end of the answer, less
    /// the time the replica held it).
    async fn send(
        &mut self,
        target: &Target,
    ) -> Result<(u16, Option<Cause>, Option<f64>), SendError> {
        let Open {
            host,
            sender,
            conn,
            closed,
            ..
        } = self;
        let req = target.request(host);
        let exchange = async {
            sender.ready().await.map_err(|_| SendError::NotSent)?;
            let sent = Instant::now();
            let resp = sender.send_request(req).await.map_err(|e| {
                if e.is_canceled() {
                    SendError::NotSent
                } else {
                    SendError::Broken
                }
            })?;
            let status = resp.status().as_u16();
            let cause = resp
                .headers()
                .get(wire::CAUSE_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(wire::cause_from_name);
            let served = resp.headers().get(wire::SERVED_HEADER).cloned();
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                frame.map_err(|_| SendError::Broken)?;
            }
            Ok((status, cause, wire::hop_s(sent.elapsed(), served.as_ref())))
        };
        let mut exchange = pin!(exchange);
        // The connection is driven here, in the worker's task, while the exchange runs.
        tokio::select! {
            biased;
            r = &mut exchange => r,
            _ = conn.as_mut() => {
                // The connection ended (closed after answering, or broke): what it delivered
                // is already with the exchange, which now completes or fails without it.
                *closed = true;
                exchange.await
            }
        }
    }
}

/// `host:port` of an `http://` base URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let a = rest.split('/').next().unwrap_or(rest);
    (!a.is_empty()).then_some(a)
}

async fn connect(url: &str) -> Result<Open, ()> {
    let a = authority(url).ok_or(())?;
    let addr = if a.contains(':') && !a.ends_with(']') {
        a.to_string()
    } else {
        format!("{a}:80")
    };
    let stream = TcpStream::connect(addr).await.map_err(|_| ())?;
    // Small requests must not wait for Nagle's delayed acknowledgements.
    stream.set_nodelay(true).map_err(|_| ())?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| ())?;
    Ok(Open {
        url: url.to_string(),
        opened: Instant::now(),
        host: HeaderValue::from_str(a).map_err(|_| ())?,
        sender,
        conn: Box::pin(conn),
        busy: false,
        closed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_of_base_urls() {
        assert_eq!(authority("http://127.0.0.1:4001"), Some("127.0.0.1:4001"));
        assert_eq!(authority("http://svc:8080/"), Some("svc:8080"));
        assert_eq!(authority("http://svc"), Some("svc"));
        assert_eq!(authority("https://svc"), None);
        assert_eq!(authority("http://"), None);
    }

    #[test]
    fn requests_carry_the_endpoint_name() {
        let t = Target::new("GET /checkout", 0);
        let r = t.request(&HeaderValue::from_static("h:1"));
        assert_eq!(r.method(), Method::GET);
        assert_eq!(r.uri().path(), "/checkout");
        assert_eq!(r.headers()[wire::ENDPOINT_HEADER], "GET /checkout");
        assert_eq!(r.headers()[HOST], "h:1");
        assert!(!r.headers().contains_key(wire::PRIORITY_HEADER));
        let t = Target::new("query", 7);
        let r = t.request(&HeaderValue::from_static("h:1"));
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri().path(), "/query");
        assert_eq!(r.headers()[wire::PRIORITY_HEADER], "7");
    }

    /// Sends three requests 60 ms apart to a plain HTTP server and counts the connections
    /// opened: one when kept, one per request when each outlives a 50 ms lifetime.
    async fn connections_for_three_requests(lifetime: Option<Duration>) -> u64 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(|| async { "ok" });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let counters = Counters::default();
        let target = Target::new("GET /", 0);
        let mut conns = Conns::with_lifetime(lifetime);
        for _ in 0..3 {
            let (status, _) = conns.exchange(&url, &target, &counters).await.unwrap();
            assert_eq!(status, 200);
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        counters.connections.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_connection_past_its_lifetime_is_renewed() {
        assert_eq!(connections_for_three_requests(None).await, 1);
        assert_eq!(
            connections_for_three_requests(Some(Duration::from_millis(50))).await,
            3
        );
    }
}
