//! The guest component: the `spoke:flow` exports, over `wasi:sockets`.

mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "spoke:flow/component",
        with: {
            "wasi:io/poll@0.2.12": wasi::io::poll,
            "wasi:io/error@0.2.12": wasi::io::error,
            "wasi:io/streams@0.2.12": wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasi::clocks::monotonic_clock,
            "wasi:random/random@0.2.12": wasi::random::random,
            "wasi:sockets/network@0.2.12": wasi::sockets::network,
            "wasi:sockets/instance-network@0.2.12": wasi::sockets::instance_network,
            "wasi:sockets/tcp@0.2.12": wasi::sockets::tcp,
            "wasi:sockets/tcp-create-socket@0.2.12": wasi::sockets::tcp_create_socket,
            "wasi:sockets/ip-name-lookup@0.2.12": wasi::sockets::ip_name_lookup,
        },
    });
}
