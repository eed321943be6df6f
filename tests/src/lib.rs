//! End-to-end test harness: real relay, real agent on Xvfb, real viewers. The suites land here
//! with the relay and agent.
