//! The gateway's HTTP/1.1 server, on hyper directly so that a request can end with the
//! connection closed and nothing written (the `Drop*` faults).
//!
//! Each connection runs in its own task, racing hyper's connection future against an abort
//! signal. A request the gateway decides to drop raises the signal and never completes; the
//! connection task then drops the hyper connection, which closes the socket without writing a
//! byte. (The peer sees end-of-stream, or a reset when unread request bytes were still queued in
//! the socket: that is what the kernel does when a socket with pending input is closed.)

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::state::Shared;
use crate::{gateway, stopped};

/// Accepts gateway connections until `stop` turns true (or its sender is gone), then lets every
/// open connection finish its current request and waits for them.
pub(crate) async fn serve_gateway(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let stop_accepting = stopped(stop.clone());
    tokio::pin!(stop_accepting);
    loop {
        tokio::select! {
            () = &mut stop_accepting => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared), stop.clone()));
                }
                Err(e) => {
                    // E.g. too many open files: back off instead of spinning.
                    tracing::warn!(target: "kernel_sandbox", error = %e, "gateway accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection; returns when it is closed, aborted by a dropped request, or drained
/// after `stop`.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    // Small JSON answers: do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let abort = Arc::new(Notify::new());
    let service = {
        let abort = Arc::clone(&abort);
        hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let shared = Arc::clone(&shared);
            let abort = Arc::clone(&abort);
            async move {
                match gateway::handle(shared, request.map(Body::new)).await {
                    Some(response) => Ok::<_, Infallible>(response),
                    None => {
                        // `notify_one` keeps a permit if the connection task is not waiting yet.
                        abort.notify_one();
                        // Never answer: the connection task drops the connection first.
                        std::future::pending().await
                    }
                }
            }
        })
    };
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let stop = stopped(stop);
    tokio::pin!(stop);
    let mut draining = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(target: "kernel_sandbox", error = %e, "gateway connection ended");
                }
                return;
            }
            // Returning drops `connection`, and with it the socket: nothing is written.
            () = abort.notified() => return,
            () = &mut stop, if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
