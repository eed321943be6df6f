//! Integration tests of the wire contract: property tests, test vectors and the examples in
//! `docs/PROTOCOL.md`. One binary, to keep link time down.

mod docs;
mod properties;
mod strategies;
mod vectors;
