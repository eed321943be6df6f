//! Session recording on the agent's side: the frames the session already encodes, kept as
//! fragmented MP4 ([`mp4`]).

pub mod mp4;
