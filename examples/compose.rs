//! Composing an application component with a Spoke component, shared by
//! `examples/build.rs` (through `#[path]`) and the tests that build
//! applications at test time (the Python one, `cli/tests/python_app.rs`).
//! Owns how the two are plugged together and how the result is checked;
//! depends on `wac-graph`, `wasmparser` and `anyhow` only.

/// Plugs the Spoke component's exports into the application's imports and
/// exports the application's exports (`wasi:cli/run`). Every other import
/// (WASI) of either stays an import of the result.
pub fn compose(spoke: &[u8], app: &[u8]) -> anyhow::Result<Vec<u8>> {
    use wac_graph::types::Package;
    use wac_graph::{CompositionGraph, EncodeOptions};

    let mut graph = CompositionGraph::new();
    let spoke = Package::from_bytes("spoke:flow", None, spoke.to_vec(), graph.types_mut())?;
    let spoke = graph.register_package(spoke)?;
    let app = Package::from_bytes("spoke:app", None, app.to_vec(), graph.types_mut())?;
    let app = graph.register_package(app)?;
    wac_graph::plug(&mut graph, vec![spoke], app)?;
    Ok(graph.encode(EncodeOptions::default())?)
}

/// Validates a component with every feature wasmtime enables by default.
pub fn validate(bytes: &[u8]) -> Result<(), String> {
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator
        .validate_all(bytes)
        .map(drop)
        .map_err(|e| e.to_string())
}
