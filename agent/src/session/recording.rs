//! A session's recording: the frames the session already encodes, handed to a [`Recorder`]
//! from the start (the organisation records every session) or between the supporter's start and
//! stop (it records on request).

use tether_protocol::signal::RecordingChanged;

use super::{Session, StreamCommand, VideoFrame};
use crate::recording::upload::{Destination, Recorder};

impl Session {
    /// Adds frame `f` to the session's recording, if it is recorded; the recording starts at
    /// the first frame (a keyframe is asked for if that one is not). A recording that fails
    /// stops; the session goes on.
    pub(super) fn record(&mut self, f: &VideoFrame) {
        if self.recorder.is_none()
            && let Some(to) = self.cfg.record_to.take()
        {
            let Some((displays, active)) = &self.displays else {
                self.cfg.record_to = Some(to);
                return;
            };
            let Some(d) = displays.get(*active) else {
                return;
            };
            tracing::info!(session = %self.id, recording = %to.recording_id, "recording the session");
            self.recorder = Some(self.start_recorder(to, d.width & !1, d.height & !1));
            self.timeline.start(self.record_began);
        }
        let Some(r) = self.recorder.as_mut() else {
            return;
        };
        let at = f.captured_at.saturating_duration_since(self.record_began);
        match r.frame(&f.data, at, f.keyframe) {
            Ok(true) => self.stream_cmd(StreamCommand::Keyframe),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(session = %self.id, error = %e, "recording stopped");
                self.recorder = None;
            }
        }
    }

    /// The supporter started or stopped recording (the relay allowed it). A start records
    /// from the next keyframe, asked for now; a stop ends the recording under way, whose task
    /// sends what is left and ends it at the relay.
    pub(super) fn on_recording(&mut self, r: RecordingChanged) {
        match (r.recording, self.cfg.recordings_relay.clone()) {
            (Some(ticket), Some(relay)) if r.recorded => {
                self.finish_recording();
                tracing::info!(session = %self.id, recording = %ticket.recording_id, "the supporter started recording");
                self.cfg.record_to = Some(Destination::new(&relay, &ticket));
                self.record_began = std::time::Instant::now();
                self.stream_cmd(StreamCommand::Keyframe);
            }
            (None, _) if !r.recorded => {
                tracing::info!(session = %self.id, "the supporter stopped recording");
                self.finish_recording();
            }
            _ => tracing::warn!(session = %self.id, "a recording this agent cannot make"),
        }
    }

    /// Ends the recording under way, if any; one that never got its first frame (stopped, or
    /// the session ended, right after it started) is ended empty rather than left open.
    pub(super) fn finish_recording(&mut self) {
        let recorder = match (self.recorder.take(), self.cfg.record_to.take()) {
            (Some(r), _) => r,
            (None, Some(to)) => self.start_recorder(to, 2, 2),
            (None, None) => return,
        };
        if let Err(e) = recorder.finish(self.record_began.elapsed(), self.timeline.take()) {
            tracing::error!(session = %self.id, error = %e, "ending the recording failed");
        }
    }

    /// A recorder of `width` × `height` frames sending to `to`, its task's end logged.
    fn start_recorder(&self, to: Destination, width: u32, height: u32) -> Recorder {
        let (recorder, sending) = Recorder::start(to, width, height);
        let id = self.id.clone();
        tokio::spawn(async move {
            match sending.await {
                Ok(Ok(up)) => {
                    tracing::info!(session = %id, segments = up.segments, bytes = up.bytes, "recording sent")
                }
                Ok(Err(e)) => {
                    tracing::error!(session = %id, error = %e, "the recording could not be sent")
                }
                Err(e) => tracing::error!(session = %id, error = %e, "the recording's task failed"),
            }
        });
        recorder
    }
}
