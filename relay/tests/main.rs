//! Relay integration tests: the real relay on `127.0.0.1:0`, a real SQLite file in a temp dir,
//! real WebSocket clients. One binary, to keep link time down.

mod account;
mod admin;
mod attack;
mod auth;
mod cluster;
mod connections;
mod durability;
mod enrollment;
mod files;
mod harness;
mod logs;
mod machines;
mod merge;
mod recording;
mod recording_s3;
mod signaling;
mod sso;
mod tls;
mod turn;
mod unattended;
mod unix;
mod web;
mod webhooks;
