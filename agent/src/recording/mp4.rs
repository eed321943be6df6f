//! Fragmented MP4 of the H.264 frames a session already sends, so recording costs no second
//! encode: a header (`ftyp`, `moov`) made from the first keyframe's parameter sets, then one
//! fragment (`moof`, `mdat`) per cut. Played one after the other they are one MP4 a browser
//! plays and seeks in (the relay serves them so).
//!
//! The track is `avc3`: the encoder repeats its parameter sets in-band before each keyframe,
//! and they stay in the samples. Times are in milliseconds; a frame lasts until the next one
//! (a still screen sends few frames), so a frame is written only once the next has come, and
//! [`Fragmenter::finish`] gives the last one the time up to the end.

use std::time::Duration;

use mp4_atom::{
    Avc3, Avcc, Codec, Dinf, Dref, Encode, FourCC, Ftyp, Hdlr, Mdat, Mdhd, Mdia, Mfhd, Minf, Moof,
    Moov, Mvex, Mvhd, Stbl, Stco, Stsd, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, Url,
    Visual, Vmhd,
};

use crate::error::{Error, Result};

/// Milliseconds: the track's time unit.
const TIMESCALE: u32 = 1000;
/// The only track.
const TRACK: u32 = 1;
/// A sample a decoder can start at (`sample_depends_on` = 2).
const SYNC: u32 = 0x0200_0000;
/// A sample that needs earlier ones (`sample_depends_on` = 1, `is_non_sync`).
const NOT_SYNC: u32 = 0x0101_0000;

/// One encoded frame waiting for its fragment.
struct Sample {
    /// Its NAL units, each after its 4-byte length.
    data: Vec<u8>,
    /// When it was captured, from the stream's start.
    at: Duration,
    keyframe: bool,
}

/// Cuts a session's H.264 frames into fragmented MP4.
pub struct Fragmenter {
    width: u32,
    height: u32,
    /// Frames pushed and not yet in a fragment; the last waits for its successor.
    pending: Vec<Sample>,
    /// The next fragment's number, from 1.
    sequence: u32,
    /// When the recording's time 0 is (the first frame's capture time).
    origin: Option<Duration>,
}

impl Fragmenter {
    /// A fragmenter for frames of `width` × `height`.
    pub fn new(width: u32, height: u32) -> Fragmenter {
        Fragmenter {
            width,
            height,
            pending: Vec::new(),
            sequence: 1,
            origin: None,
        }
    }

    /// The header for a recording whose first frame is `keyframe` (Annex B): its SPS and PPS
    /// become the track's configuration.
    pub fn header(&self, keyframe: &[u8]) -> Result<Vec<u8>> {
        let (mut sps, mut pps) = (None, None);
        for nal in nal_units(keyframe) {
            match nal.first().map(|b| b & 0x1f) {
                Some(7) if sps.is_none() => sps = Some(nal),
                Some(8) if pps.is_none() => pps = Some(nal),
                _ => {}
            }
        }
        let (Some(sps), Some(pps)) = (sps, pps) else {
            return Err(Error::Encode(
                "a recording starts at a keyframe with its SPS and PPS".into(),
            ));
        };
        let avcc = Avcc::new(sps, pps).map_err(mux)?;
        let (w, h) = (clamp16(self.width), clamp16(self.height));
        let entry = Avc3 {
            visual: Visual {
                data_reference_index: 1,
                width: w,
                height: h,
                ..Default::default()
            },
            avcc,
            ..Default::default()
        };
        let moov = Moov {
            mvhd: Mvhd {
                timescale: TIMESCALE,
                rate: 1.into(),
                volume: 1.into(),
                next_track_id: TRACK + 1,
                ..Default::default()
            },
            mvex: Some(Mvex {
                trex: vec![Trex {
                    track_id: TRACK,
                    default_sample_description_index: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            trak: vec![Trak {
                tkhd: Tkhd {
                    track_id: TRACK,
                    enabled: true,
                    in_movie: true,
                    width: w.into(),
                    height: h.into(),
                    ..Default::default()
                },
                mdia: Mdia {
                    mdhd: Mdhd {
                        timescale: TIMESCALE,
                        language: "und".into(),
                        ..Default::default()
                    },
                    hdlr: Hdlr {
                        handler: FourCC::new(b"vide"),
                        name: "Tether screen".into(),
                    },
                    minf: Minf {
                        vmhd: Some(Vmhd::default()),
                        dinf: Dinf {
                            dref: Dref {
                                urls: vec![Url::default()],
                            },
                        },
                        stbl: Stbl {
                            stsd: Stsd {
                                codecs: vec![Codec::Avc3(entry)],
                            },
                            stco: Some(Stco::default()),
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                },
                ..Default::default()
            }],
            ..Default::default()
        };
        let ftyp = Ftyp {
            major_brand: FourCC::new(b"iso6"),
            minor_version: 0,
            compatible_brands: vec![
                FourCC::new(b"iso6"),
                FourCC::new(b"cmfc"),
                FourCC::new(b"avc1"),
                FourCC::new(b"mp41"),
            ],
        };
        let mut out = Vec::new();
        ftyp.encode(&mut out).map_err(mux)?;
        moov.encode(&mut out).map_err(mux)?;
        Ok(out)
    }

    /// Adds frame `annexb`, captured `at` after the stream began.
    pub fn push(&mut self, annexb: &[u8], at: Duration, keyframe: bool) {
        let origin = *self.origin.get_or_insert(at);
        let mut data = Vec::with_capacity(annexb.len() + 16);
        for nal in nal_units(annexb) {
            // Access unit delimiters carry nothing an MP4 needs.
            if nal.first().map(|b| b & 0x1f) == Some(9) {
                continue;
            }
            data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            data.extend_from_slice(nal);
        }
        // Never earlier than the frame before: durations are not negative.
        let at = at
            .saturating_sub(origin)
            .max(self.pending.last().map_or(Duration::ZERO, |s| s.at));
        self.pending.push(Sample { data, at, keyframe });
    }

    /// How many bytes of frames wait for a fragment.
    pub fn bytes_waiting(&self) -> usize {
        self.pending.iter().map(|s| s.data.len()).sum()
    }

    /// A fragment of every frame pushed but the last (whose length is not known yet), if any.
    pub fn cut(&mut self) -> Result<Option<Vec<u8>>> {
        if self.pending.len() < 2 {
            return Ok(None);
        }
        let last = self.pending.pop().expect("two or more");
        let fragment = self.fragment(last.at)?;
        self.pending.push(last);
        Ok(Some(fragment))
    }

    /// The last fragment: every frame left, the last lasting until `end` (from the stream's
    /// start; at least a millisecond).
    pub fn finish(&mut self, end: Duration) -> Result<Option<Vec<u8>>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let origin = self.origin.unwrap_or_default();
        let last = self.pending.last().map_or(Duration::ZERO, |s| s.at);
        let end = end
            .saturating_sub(origin)
            .max(last + Duration::from_millis(1));
        self.fragment(end).map(Some)
    }

    /// `moof` + `mdat` of every pending frame; the last lasts until `until`.
    fn fragment(&mut self, until: Duration) -> Result<Vec<u8>> {
        let samples = std::mem::take(&mut self.pending);
        let mut entries = Vec::with_capacity(samples.len());
        for (i, s) in samples.iter().enumerate() {
            let next = samples.get(i + 1).map_or(until, |n| n.at);
            entries.push(TrunEntry {
                duration: Some(millis(next.saturating_sub(s.at))),
                size: Some(s.data.len() as u32),
                flags: Some(if s.keyframe { SYNC } else { NOT_SYNC }),
                cts: None,
            });
        }
        let mut moof = Moof {
            mfhd: Mfhd {
                sequence_number: self.sequence,
            },
            traf: vec![Traf {
                tfhd: Tfhd {
                    track_id: TRACK,
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: samples[0].at.as_millis() as u64,
                }),
                trun: vec![Trun {
                    data_offset: Some(0),
                    entries,
                }],
                ..Default::default()
            }],
        };
        // The samples start right after the moof and the mdat's 8-byte header; the offset's
        // own size does not change with its value.
        let mut probe = Vec::new();
        moof.encode(&mut probe).map_err(mux)?;
        moof.traf[0].trun[0].data_offset = Some(probe.len() as i32 + 8);
        let data: Vec<u8> = samples.into_iter().flat_map(|s| s.data).collect();
        let mut out = Vec::with_capacity(probe.len() + data.len() + 8);
        moof.encode(&mut out).map_err(mux)?;
        Mdat { data }.encode(&mut out).map_err(mux)?;
        self.sequence += 1;
        Ok(out)
    }
}

/// The NAL units of an Annex B stream, without their start codes.
fn nal_units(annexb: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= annexb.len() {
        if annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&(code, _)| {
            // A 4-byte start code's leading zero belongs to it, not to the NAL before.
            if code > 0 && annexb[code - 1] == 0 {
                code - 1
            } else {
                code
            }
        })
        .chain(std::iter::once(annexb.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .map(move |((_, begin), end)| &annexb[begin..end.max(begin)])
        .filter(|nal| !nal.is_empty())
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn clamp16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

fn mux(e: mp4_atom::Error) -> Error {
    Error::Encode(format!("recording: {e}"))
}

#[cfg(test)]
mod tests {
    use mp4_atom::Decode;

    use super::*;

    #[test]
    fn annex_b_splits_on_both_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5,
        ];
        let nals: Vec<&[u8]> = nal_units(&stream).collect();
        assert_eq!(nals, [&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
    }

    #[test]
    fn a_frame_waits_for_the_next_to_know_its_length() {
        let mut f = Fragmenter::new(64, 48);
        let frame = [0, 0, 0, 1, 0x65, 1, 2, 3];
        f.push(&frame, Duration::from_millis(1000), true);
        assert!(
            f.cut().unwrap().is_none(),
            "one frame: its length is unknown"
        );
        f.push(&frame, Duration::from_millis(1040), false);
        let fragment = f.cut().unwrap().expect("the first frame");
        let moof = Moof::decode(&mut std::io::Cursor::new(&fragment)).unwrap();
        let entry = &moof.traf[0].trun[0].entries;
        assert_eq!(entry.len(), 1);
        assert_eq!(entry[0].duration, Some(40));
        assert_eq!(entry[0].size, Some(8), "a 4-byte length and the NAL");
        assert_eq!(
            moof.traf[0].tfdt.as_ref().unwrap().base_media_decode_time,
            0
        );
        let last = f.finish(Duration::from_millis(1100)).unwrap().unwrap();
        let moof = Moof::decode(&mut std::io::Cursor::new(&last)).unwrap();
        assert_eq!(moof.mfhd.sequence_number, 2);
        assert_eq!(
            moof.traf[0].tfdt.as_ref().unwrap().base_media_decode_time,
            40
        );
        assert_eq!(moof.traf[0].trun[0].entries[0].duration, Some(60));
        assert!(f.finish(Duration::from_secs(9)).unwrap().is_none());
    }

    #[test]
    fn a_header_needs_the_keyframes_parameter_sets() {
        let f = Fragmenter::new(64, 48);
        assert!(f.header(&[0, 0, 0, 1, 0x65, 1]).is_err());
    }
}
