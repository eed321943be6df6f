//! Property tests: round trips, decoders that never panic, and lifecycle invariants under random
//! event orders in virtual time.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use tether_protocol::ShareCode;
use tether_protocol::input::InputEvent;
use tether_protocol::lifecycle::{Event, Lifecycle, Outcome, Output, State, Timeouts};
use tether_protocol::reconnect::{Backoff, ConnState, Reconnect};
use tether_protocol::signal::{
    self, CancelReason, Decision, EndReason, Mode, RequestId, SessionId,
};

use crate::strategies::{code, input_event, message};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips(m in message()) {
        let frame = signal::encode(&m);
        prop_assert_eq!(signal::decode(&frame).unwrap(), m);
    }

    #[test]
    fn every_input_frame_round_trips(e in input_event()) {
        prop_assert_eq!(InputEvent::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn share_codes_round_trip_through_every_form(c in code()) {
        prop_assert_eq!(ShareCode::parse(c.as_str()).unwrap(), c);
        prop_assert_eq!(ShareCode::parse(&c.grouped()).unwrap(), c);
        prop_assert_eq!(ShareCode::parse(&c.grouped().replace(' ', "-")).unwrap(), c);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_input_decoder(bytes in prop::collection::vec(any::<u8>(), 0..1100)) {
        let _ = InputEvent::decode(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics_the_signal_decoder(s in any::<String>()) {
        let _ = signal::decode(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_control_decoder(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = tether_protocol::control::decode(&b) {
            let again = tether_protocol::control::decode(tether_protocol::control::encode(&m).as_bytes());
            prop_assert_eq!(again.unwrap(), m);
        }
    }

    #[test]
    fn near_valid_frames_never_panic_the_signal_decoder(m in message(), cut in any::<prop::sample::Index>(), junk in any::<char>()) {
        let mut frame = signal::encode(&m);
        let mut at = cut.index(frame.len() + 1);
        while !frame.is_char_boundary(at) { at -= 1; }
        frame.insert(at, junk);
        let _ = signal::decode(&frame);
        let _ = signal::decode(&frame[..at]);
    }

    #[test]
    fn arbitrary_text_never_panics_the_share_code_parser(s in any::<String>()) {
        let _ = ShareCode::parse(&s);
    }

    #[test]
    fn backoff_stays_within_bounds(failures in 1u32..100, jitter in any::<u32>()) {
        let b = Backoff::default();
        let d = b.delay(failures, jitter);
        prop_assert!(d <= b.max);
        prop_assert!(d >= b.initial / 2);
    }

    #[test]
    fn reconnect_never_reaches_an_illegal_state(steps in prop::collection::vec((0u8..5, 0u64..120_000, any::<u32>()), 1..60)) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut r = Reconnect::new(Backoff::default());
        for (op, advance_ms, jitter) in steps {
            now += Duration::from_millis(advance_ms);
            let before = r.state();
            let ok = match op {
                0 => r.start().is_ok(),
                1 => r.connected(now).is_ok(),
                2 => r.failed(now, jitter).is_ok(),
                3 => { r.handle_timeout(now); true }
                _ => { r.stop(); true }
            };
            if !ok {
                prop_assert_eq!(r.state(), before, "a refused event changed the state");
            }
            if let ConnState::Waiting { until } = r.state() {
                prop_assert!(until <= now + Backoff::default().max);
                prop_assert!(r.failures() >= 1);
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Connect(u8, bool),
    Consent(u8, u8),
    Cancel(u8),
    End,
    Withdraw,
    Tick,
}

fn step() -> impl Strategy<Value = (Step, u64)> {
    let s = prop_oneof![
        (0u8..3, any::<bool>()).prop_map(|(r, c)| Step::Connect(r, c)),
        (0u8..3, 0u8..3).prop_map(|(r, d)| Step::Consent(r, d)),
        (0u8..3).prop_map(Step::Cancel),
        Just(Step::End),
        Just(Step::Withdraw),
        Just(Step::Tick),
    ];
    // Time advances between 0 and 200 s per step, so every deadline is crossed in some runs.
    (s, 0u64..200_000)
}

fn rid(n: u8) -> RequestId {
    RequestId::new(format!("r{n}")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lifecycle_invariants_hold_for_random_event_orders(steps in prop::collection::vec(step(), 1..40)) {
        let timeouts = Timeouts {
            code_ttl: Duration::from_secs(600),
            consent: Duration::from_secs(60),
            max_session: Duration::from_secs(3600),
        };
        let t0 = Instant::now();
        let mut now = t0;
        let mut l = Lifecycle::new(t0, timeouts);
        let mut outputs = Vec::new();
        let mut session_counter = 0;
        for (s, advance_ms) in steps {
            now += Duration::from_millis(advance_ms);
            let before = l.state().clone();
            let event = match s {
                Step::Connect(r, c) => Some(Event::Connect { request_id: rid(r), mode: if c { Mode::Control } else { Mode::View } }),
                Step::Consent(r, d) => {
                    session_counter += 1;
                    let decision = [Decision::AllowControl, Decision::AllowView, Decision::Deny][d as usize];
                    Some(Event::Consent { request_id: rid(r), decision, session_id: SessionId::new(format!("s{session_counter}")).unwrap() })
                }
                Step::Cancel(r) => Some(Event::Cancel { request_id: rid(r), reason: CancelReason::ViewerCancelled }),
                Step::End => Some(Event::End { reason: EndReason::EndedByViewer }),
                Step::Withdraw => Some(Event::Withdraw),
                Step::Tick => None,
            };
            match event {
                None => l.handle_timeout(now),
                Some(e) => {
                    let was_closed = matches!(before, State::Closed(_));
                    // A consent answer counts only for the pending request, before its deadline.
                    let must_refuse = match (&before, &e) {
                        (State::ConsentPending { request_id, deadline, .. }, Event::Consent { request_id: answered, .. }) => {
                            answered != request_id || now >= *deadline
                        }
                        (State::ConsentPending { .. }, Event::Connect { .. }) => true,
                        (State::Issued { expires_at }, Event::Connect { .. }) => now >= *expires_at,
                        (State::Issued { .. } | State::ConsentPending { .. }, Event::End { .. }) => true,
                        _ => false,
                    };
                    let result = l.handle(now, e);
                    if must_refuse {
                        prop_assert!(result.is_err(), "accepted from {:?}", before);
                    }
                    if was_closed {
                        prop_assert!(result.is_err(), "a closed lifecycle accepted an event");
                        prop_assert_eq!(l.state(), &before);
                    }
                }
            }
            outputs.extend(std::iter::from_fn(|| l.poll_output()));

            // Closed is final.
            if let State::Closed(_) = before {
                prop_assert_eq!(l.state(), &before);
            }
            // Once due timeouts are applied, the next deadline lies in the future.
            l.handle_timeout(now);
            outputs.extend(std::iter::from_fn(|| l.poll_output()));
            if let Some(at) = l.poll_timeout() {
                prop_assert!(at > now);
            }
        }

        let started: Vec<_> = outputs.iter().filter(|o| matches!(o, Output::SessionStarted { .. })).collect();
        let ended: Vec<_> = outputs.iter().filter(|o| matches!(o, Output::SessionEnded { .. })).collect();
        let refused = outputs.iter().position(|o| matches!(o, Output::Denied { .. } | Output::ConsentTimedOut { .. } | Output::Cancelled { .. }));
        let start_at = outputs.iter().position(|o| matches!(o, Output::SessionStarted { .. }));
        let asks = outputs.iter().filter(|o| matches!(o, Output::AskConsent { .. })).count();
        // One code never backs two sessions or asks twice.
        prop_assert!(started.len() <= 1, "two sessions from one code: {:?}", outputs);
        prop_assert!(asks <= 1);
        // A session is never ended twice, and never ended without starting.
        prop_assert!(ended.len() <= started.len());
        // No grant after a deny, a timeout or a cancel; never both a refusal and a grant.
        prop_assert!(!(refused.is_some() && start_at.is_some()), "granted after refusal: {:?}", outputs);
        // A grant always follows an ask.
        if let Some(s) = start_at {
            let asked = outputs[..s].iter().any(|o| matches!(o, Output::AskConsent { .. }));
            prop_assert!(asked, "granted without asking");
        }
        // The final state agrees with the outputs.
        match l.state() {
            State::Active { .. } => prop_assert!(started.len() == 1 && ended.is_empty()),
            State::Closed(Outcome::Ended(_)) => prop_assert!(ended.len() == 1),
            State::Closed(Outcome::Denied) => {
                let denied = outputs.iter().any(|o| matches!(o, Output::Denied { .. }));
                prop_assert!(denied, "closed as denied without a denial");
            }
            _ => {}
        }
    }
}
