//! The host's error types print exactly what the component's own
//! `error-message`, `write-error-message` and `handshake-error-message` print.

mod common;

use common::spoke;
use spoke_host::{FlowError, HandshakeError, NetworkPolicy, WriteError};

fn flow_errors() -> Vec<FlowError> {
    vec![
        FlowError::ConnectionRefused,
        FlowError::ConnectionReset,
        FlowError::TimedOut,
        FlowError::NameUnresolvable("nowhere.invalid".into()),
        FlowError::PermissionDenied("connecting to 127.0.0.1:9 is not allowed".into()),
        FlowError::Corrupted,
        FlowError::Truncated,
        FlowError::InvalidState("the flow is closed".into()),
        FlowError::Other("something else".into()),
    ]
}

#[tokio::test]
async fn flow_and_write_errors_render_like_the_component() {
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap();
    for e in flow_errors() {
        assert_eq!(
            inst.error_message(&e).await.unwrap(),
            e.to_string(),
            "{e:?}"
        );
        let w = WriteError::Error(e);
        assert_eq!(
            inst.write_error_message(&w).await.unwrap(),
            w.to_string(),
            "{w:?}"
        );
    }
    let closed = WriteError::Closed;
    assert_eq!(
        inst.write_error_message(&closed).await.unwrap(),
        closed.to_string()
    );
}

#[tokio::test]
async fn handshake_errors_render_like_the_component() {
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap();
    let mut all = vec![
        HandshakeError::InvalidPublicPacket,
        HandshakeError::InvalidClientValidator,
        HandshakeError::InvalidServerValidator,
        HandshakeError::PointNotOnPrimeOrderSubgroup,
        HandshakeError::EndOfInput,
        HandshakeError::VersionMismatch { ours: 2, theirs: 1 },
        HandshakeError::IterationCountRefused {
            requested: 1_000_000,
            maximum: 100_000,
        },
        HandshakeError::InvalidConfig("the identities must not be empty".into()),
        HandshakeError::Closed,
    ];
    all.extend(flow_errors().into_iter().map(HandshakeError::Flow));
    for e in all {
        assert_eq!(
            inst.handshake_error_message(&e).await.unwrap(),
            e.to_string(),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn the_rust_default_config_is_the_components() {
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap();
    let theirs = inst.default_config().await.unwrap();
    let ours = spoke_host::SpokeConfig::default();
    assert_eq!(format!("{theirs:?}"), format!("{ours:?}"));
}
