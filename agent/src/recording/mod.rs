//! Session recording on the agent's side: the frames the session already encodes, kept as
//! fragmented MP4 ([`mp4`]) and sent to the relay as it goes ([`upload`]).

pub mod mp4;
pub mod timeline;
pub mod upload;
