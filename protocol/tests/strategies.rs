//! proptest strategies for every wire type.

use proptest::prelude::*;
use tether_protocol::ShareCode;
use tether_protocol::input::{Button, InputEvent, MAX_TEXT_BYTES};
use tether_protocol::signal::*;

pub fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

pub fn text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.chars().take(40).collect())
}

pub fn code() -> impl Strategy<Value = ShareCode> {
    "[0-9]{10}".prop_map(|s| ShareCode::parse(&s).unwrap())
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Control), Just(Mode::View)]
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![
        Just(Decision::AllowControl),
        Just(Decision::AllowControlWithoutFiles),
        Just(Decision::AllowView),
        Just(Decision::Deny)
    ]
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        Just(EndReason::EndedByViewer),
        Just(EndReason::EndedByAgent),
        Just(EndReason::EndedByAdmin),
        Just(EndReason::ViewerLeft),
        Just(EndReason::AgentLeft),
        Just(EndReason::HeartbeatTimeout),
        Just(EndReason::MaxDuration),
        Just(EndReason::Revoked),
        Just(EndReason::RelayShutdown),
        Just(EndReason::ConnectionFailed),
        Just(EndReason::Other),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::Malformed),
        Just(ErrorCode::TooLarge),
        Just(ErrorCode::UnsupportedVersion),
        Just(ErrorCode::UnknownType),
        Just(ErrorCode::NotAllowed),
        Just(ErrorCode::Unauthorized),
        Just(ErrorCode::Forbidden),
        Just(ErrorCode::InvalidCode),
        Just(ErrorCode::CodeExpired),
        Just(ErrorCode::Throttled),
        Just(ErrorCode::AgentBusy),
        Just(ErrorCode::AgentOffline),
        Just(ErrorCode::ConsentDenied),
        Just(ErrorCode::ConsentTimeout),
        Just(ErrorCode::NotInSession),
        Just(ErrorCode::RateLimited),
        Just(ErrorCode::Internal),
        Just(ErrorCode::Unavailable),
        Just(ErrorCode::Other),
    ]
}

fn cancel_reason() -> impl Strategy<Value = CancelReason> {
    prop_oneof![
        Just(CancelReason::ViewerCancelled),
        Just(CancelReason::ViewerLeft),
        Just(CancelReason::Timeout)
    ]
}

fn rid() -> impl Strategy<Value = RequestId> {
    id().prop_map(|s| RequestId::new(s).unwrap())
}

fn sid() -> impl Strategy<Value = SessionId> {
    id().prop_map(|s| SessionId::new(s).unwrap())
}

fn ice_server() -> impl Strategy<Value = IceServer> {
    (
        prop::collection::vec(text(), 0..3),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(|(urls, username, credential)| IceServer {
            urls,
            username,
            credential,
        })
}

/// Every signaling message with arbitrary field values.
pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            text(),
            text(),
            text(),
            prop::option::of(any::<i64>()),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(client, os, hostname, machine_id, local_user, records)| {
                Message::Hello(Hello {
                    client,
                    os,
                    hostname,
                    machine_id,
                    local_user,
                    records,
                })
            }),
        text().prop_map(|nonce| Message::Challenge(Challenge { nonce })),
        text().prop_map(|signature| Message::ChallengeResponse(ChallengeResponse { signature })),
        (any::<i64>(), mode()).prop_map(|(machine_id, mode)| Message::ConnectMachine(
            ConnectMachine { machine_id, mode }
        )),
        (code(), any::<u32>()).prop_map(|(code, expires_in_secs)| Message::ShareCode(
            ShareCodeIssued {
                code,
                expires_in_secs
            }
        )),
        Just(Message::RenewCode(RenewCode {})),
        (code(), mode()).prop_map(|(code, mode)| Message::Connect(Connect { code, mode })),
        (rid(), any::<u32>()).prop_map(|(request_id, timeout_secs)| Message::ConsentPending(
            ConsentPending {
                request_id,
                timeout_secs
            }
        )),
        (
            rid(),
            text(),
            text(),
            text(),
            any::<bool>(),
            mode(),
            any::<u32>(),
            (any::<bool>(), any::<bool>(), any::<bool>())
        )
            .prop_map(
                |(
                    request_id,
                    name,
                    email,
                    org,
                    verified,
                    mode,
                    timeout_secs,
                    (files, recorded, may_record),
                )| {
                    Message::ConsentRequest(ConsentRequest {
                        request_id,
                        viewer: ViewerIdentity {
                            name,
                            email,
                            org,
                            verified,
                        },
                        mode,
                        timeout_secs,
                        files,
                        recorded,
                        may_record,
                    })
                }
            ),
        (rid(), decision()).prop_map(|(request_id, decision)| Message::ConsentResponse(
            ConsentResponse {
                request_id,
                decision
            }
        )),
        (rid(), cancel_reason()).prop_map(|(request_id, reason)| Message::ConsentCancel(
            ConsentCancel { request_id, reason }
        )),
        (
            sid(),
            prop_oneof![Just(Role::Agent), Just(Role::Viewer)],
            mode(),
            prop::collection::vec(ice_server(), 0..3),
            text(),
            prop::option::of(text()),
            prop::option::of(text()),
            (
                any::<bool>(),
                prop::option::of((text(), text())),
                any::<bool>()
            ),
            (
                any::<bool>(),
                prop::option::of(any::<u64>()),
                any::<bool>(),
                any::<bool>()
            )
        )
            .prop_map(
                |(session_id, role, mode, ice_servers, name, org, email, rec, files)| {
                    let (unattended, ticket, recorded) = rec;
                    Message::SessionStart(SessionStart {
                        session_id,
                        role,
                        mode,
                        ice_servers,
                        peer: PeerInfo { name, org, email },
                        unattended,
                        files: FileRules {
                            allowed: files.0,
                            max_size: files.1,
                            browse: files.2,
                        },
                        recorded,
                        recording: ticket.map(|(recording_id, upload_token)| RecordingTicket {
                            recording_id,
                            upload_token,
                        }),
                        may_record: files.3,
                    })
                }
            ),
        (
            sid(),
            prop_oneof![Just(SdpKind::Offer), Just(SdpKind::Answer)],
            text()
        )
            .prop_map(|(session_id, kind, sdp)| Message::Sdp(Sdp {
                session_id,
                kind,
                sdp
            })),
        (
            sid(),
            text(),
            prop::option::of(text()),
            prop::option::of(any::<u16>())
        )
            .prop_map(|(session_id, candidate, sdp_mid, sdp_mline_index)| {
                Message::Ice(Ice {
                    session_id,
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                })
            }),
        (sid(), end_reason(), prop::option::of(any::<u32>())).prop_map(
            |(session_id, reason, chat_messages)| Message::SessionEnd(SessionEnd {
                session_id,
                reason,
                chat_messages,
            })
        ),
        (
            sid(),
            prop_oneof![Just(FileDirection::ToAgent), Just(FileDirection::ToViewer)],
            "[^/]{1,60}",
            any::<u64>(),
            prop::option::of("[0-9a-f]{64}"),
            prop_oneof![
                Just(FileOutcome::Saved),
                Just(FileOutcome::Failed),
                Just(FileOutcome::Cancelled)
            ],
            prop::option::of(text()),
        )
            .prop_map(
                |(session_id, direction, name, size, sha, outcome, reason)| {
                    Message::FileTransfer(FileTransfer {
                        session_id,
                        direction,
                        name,
                        size,
                        sha256: sha.and_then(|h| Sha256Hex::new(&h)),
                        outcome,
                        reason,
                    })
                }
            ),
        (sid(), any::<bool>())
            .prop_map(|(session_id, on)| Message::Record(SetRecording { session_id, on })),
        (sid(), any::<bool>(), prop::option::of((text(), text()))).prop_map(
            |(session_id, recorded, ticket)| Message::Recording(RecordingChanged {
                session_id,
                recorded,
                recording: ticket.map(|(recording_id, upload_token)| RecordingTicket {
                    recording_id,
                    upload_token,
                }),
            })
        ),
        (
            error_code(),
            text(),
            prop::option::of(rid()),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(code, message, request_id, retry_after_ms)| {
                Message::Error(ErrorMessage {
                    code,
                    message,
                    request_id,
                    retry_after_ms,
                })
            }),
        any::<u64>().prop_map(|seq| Message::Ping(Ping { seq })),
        any::<u64>().prop_map(|seq| Message::Pong(Ping { seq })),
    ]
}

fn button() -> impl Strategy<Value = Button> {
    (0u8..5).prop_map(|b| Button::from_u8(b).unwrap())
}

/// Every input event with arbitrary field values.
pub fn input_event() -> impl Strategy<Value = InputEvent> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<u16>())
            .prop_map(|(display, x, y)| InputEvent::PointerMove { display, x, y }),
        button().prop_map(|button| InputEvent::ButtonDown { button }),
        button().prop_map(|button| InputEvent::ButtonUp { button }),
        (any::<i16>(), any::<i16>()).prop_map(|(dx, dy)| InputEvent::Wheel { dx, dy }),
        any::<u32>().prop_map(|usage| InputEvent::KeyDown { usage }),
        any::<u32>().prop_map(|usage| InputEvent::KeyUp { usage }),
        any::<String>().prop_map(|s| {
            let mut cut = s.len().min(MAX_TEXT_BYTES);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            InputEvent::Text {
                text: s[..cut].to_owned(),
            }
        }),
        Just(InputEvent::ReleaseAll),
    ]
}
