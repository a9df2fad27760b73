//! The floor under the invoke rows of `cargo xtask bench`: the broker's stack (tokio on the
//! broker's default single-threaded runtime, axum routing `POST /v1/functions/{name}/invoke`, the
//! JSON body read, one call to the app on the broker's own pooled client with its answer read whole
//! and returned) doing none of the broker's work. What the bench measures above this row is the
//! broker's own cost.
//!
//! Usage: `floor_proxy <listen address> <app URL>`; `GET /ready` answers once it listens.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use http_body_util::{BodyExt, Full};
use patchbay_broker::app_client::AppClient;
use patchbay_broker::config::Config;
use patchbay_broker::net::{AddressPolicy, Upstreams};

#[global_allocator]
static ALLOCATOR: patchbay_alloc::Mimalloc = patchbay_alloc::Mimalloc;

#[derive(Clone)]
struct App {
    client: AppClient,
    url: String,
}

async fn invoke(State(app): State<App>, body: Bytes) -> Response {
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let request = Request::get(&app.url).body(Full::new(Bytes::new())).expect("a valid request");
    let Ok(answer) = app.client.send(request, Duration::from_secs(10)).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    match answer.into_body().collect().await {
        Ok(collected) => Response::new(Body::from(collected.to_bytes())),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

fn main() {
    // The broker's own runtime at its default thread count, so the floor follows the broker's.
    let runtime = patchbay_broker::cli::runtime(Config::default().worker_threads).expect("a runtime");
    runtime.block_on(serve());
}

async fn serve() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(url)) = (args.next(), args.next()) else {
        eprintln!("usage: floor_proxy <listen address> <app URL>");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("a listen address such as 127.0.0.1:8080");
    let policy = AddressPolicy { allow_loopback: true };
    let client = Upstreams::new(policy, Duration::from_secs(10)).expect("the clients build").trusted_apps;
    let router = Router::new()
        .route("/v1/functions/{name}/invoke", post(invoke))
        .route("/ready", get(|| async { "ok" }))
        .with_state(App { client, url });
    // As the broker does: answers go out whole, Nagle's algorithm would only hold them back.
    let listener =
        tokio::net::TcpListener::bind(listen).await.expect("the listen address is free").tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, router).await.expect("serving");
}
