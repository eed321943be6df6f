//! Access policy of an enrolled machine: who may connect, whether the local user must consent,
//! whether anyone must be signed in, and when. [`decide`] is a pure function of the policy, the
//! caller and the clock, so every rule is unit-tested without a relay.

use serde::{Deserialize, Serialize};

use crate::store::{Principal, RecordingMode, Role};

/// Longest list of roles or users in a policy.
const MAX_LIST: usize = 1000;

/// A machine's access policy, stored as JSON with the machine. Missing fields take the safe
/// defaults: owners, admins and technicians may ask, and the local user must consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MachinePolicy {
    /// Roles whose members may connect.
    #[serde(default = "default_roles")]
    pub roles: Vec<PolicyRole>,
    /// Users (by id) who may connect whatever their role.
    #[serde(default)]
    pub users: Vec<i64>,
    /// Whether the person at the machine must allow each session (default: yes).
    #[serde(default = "yes")]
    pub require_consent: bool,
    /// Whether a session may start when nobody is signed in at the machine (default: no).
    #[serde(default)]
    pub allow_without_user: bool,
    /// When connecting is allowed; any time if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Hours>,
    /// Whether supporters in an unattended control session may browse the machine's disk and
    /// fetch files from it (default: no). Sessions the person allows never browse.
    #[serde(default)]
    pub browse_files: bool,
    /// Which of the machine's sessions are recorded, beyond what its organisation records: the
    /// greater of the two applies (e.g. `always` for an unattended server in an organisation
    /// that records on request). Default: as the organisation says.
    #[serde(default)]
    pub recording: RecordingMode,
}

impl Default for MachinePolicy {
    fn default() -> Self {
        MachinePolicy {
            roles: default_roles(),
            users: Vec::new(),
            require_consent: true,
            allow_without_user: false,
            hours: None,
            browse_files: false,
            recording: RecordingMode::Off,
        }
    }
}

/// The roles a policy can name (readers may never connect, so they are not among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PolicyRole {
    /// Organisation owners.
    Owner,
    /// Administrators.
    Admin,
    /// Technicians.
    Technician,
}

impl PolicyRole {
    fn matches(self, role: Role) -> bool {
        matches!(
            (self, role),
            (PolicyRole::Owner, Role::Owner)
                | (PolicyRole::Admin, Role::Admin)
                | (PolicyRole::Technician, Role::Technician)
        )
    }
}

/// A weekly window in the machine's local time, given as a fixed offset from UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// Days the window opens on, 1 = Monday … 7 = Sunday.
    pub days: Vec<u8>,
    /// Opening time, `HH:MM`.
    #[schema(pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub from: String,
    /// Closing time, `HH:MM`; earlier than `from` for a window that runs past midnight.
    #[schema(pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub to: String,
    /// The machine's offset from UTC in minutes (e.g. 60 for CET, -300 for EST).
    #[serde(default)]
    #[schema(minimum = -840, maximum = 840)]
    pub utc_offset_minutes: i32,
    /// The machine's IANA time zone (`Europe/Amsterdam`); when given it decides the offset at
    /// each moment, daylight-saving time included, and `utc_offset_minutes` is unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// The IANA time zone `name`, from the database bundled into the relay.
fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    jiff::tz::db().get(name).ok()
}

fn default_roles() -> Vec<PolicyRole> {
    vec![PolicyRole::Owner, PolicyRole::Admin, PolicyRole::Technician]
}

/// A serde default of `true`.
pub(crate) fn yes() -> bool {
    true
}

/// Minutes since midnight of an `HH:MM` time.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl MachinePolicy {
    /// Checks a policy sent by an administrator; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.roles.len() > MAX_LIST || self.users.len() > MAX_LIST {
            return Err(format!("roles and users hold at most {MAX_LIST} entries"));
        }
        if let Some(h) = &self.hours {
            if h.days.is_empty() || h.days.iter().any(|d| !(1..=7).contains(d)) {
                return Err("hours.days must list days 1 (Monday) to 7 (Sunday)".into());
            }
            let (Some(from), Some(to)) = (minutes(&h.from), minutes(&h.to)) else {
                return Err("hours.from and hours.to must be HH:MM".into());
            };
            if from == to {
                return Err("hours.from and hours.to must differ".into());
            }
            if h.utc_offset_minutes.abs() > 14 * 60 {
                return Err("hours.utc_offset_minutes must be within ±840".into());
            }
            if let Some(tz) = &h.time_zone
                && (tz.len() > 64 || zone(tz).is_none())
            {
                return Err(format!("hours.time_zone {tz:?} is not an IANA time zone"));
            }
        }
        Ok(())
    }
}

impl Hours {
    /// Whether `unix_secs` falls in the window. A window past midnight belongs to the day it
    /// opens: Friday 22:00–06:00 includes Saturday 03:00.
    pub fn contains(&self, unix_secs: i64) -> bool {
        let (Some(from), Some(to)) = (minutes(&self.from), minutes(&self.to)) else {
            return false;
        };
        let offset_minutes = match &self.time_zone {
            Some(tz) => {
                let (Some(tz), Ok(t)) = (zone(tz), jiff::Timestamp::from_second(unix_secs)) else {
                    // Validated when set; a zone that has since vanished opens no window.
                    return false;
                };
                i64::from(tz.to_offset(t).seconds().div_euclid(60))
            }
            None => i64::from(self.utc_offset_minutes),
        };
        let local = unix_secs.div_euclid(60) + offset_minutes;
        let day_index = local.div_euclid(24 * 60); // days since 1970-01-01, a Thursday
        let minute = local.rem_euclid(24 * 60) as u32;
        // 1 = Monday … 7 = Sunday.
        let weekday = |d: i64| ((d + 3).rem_euclid(7) + 1) as u8;
        let open_on = |d: i64| self.days.contains(&weekday(d));
        if from < to {
            open_on(day_index) && (from..to).contains(&minute)
        } else {
            (open_on(day_index) && minute >= from) || (open_on(day_index - 1) && minute < to)
        }
    }
}

/// What a policy allows for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ask the person at the machine first.
    AskConsent,
    /// Start at once; the machine shows who is connected.
    Unattended,
    /// Refused; the text says why (shown to the supporter).
    Refused(&'static str),
}

/// Decides a connection by `who` to a machine under `policy`, with someone signed in there or
/// not, at `unix_secs`.
pub fn decide(
    policy: &MachinePolicy,
    who: &Principal,
    local_user: bool,
    unix_secs: i64,
) -> Decision {
    let listed = policy.users.contains(&who.user_id);
    if !listed && !policy.roles.iter().any(|r| r.matches(who.role)) {
        return Decision::Refused("this machine's policy does not allow your account");
    }
    if let Some(h) = &policy.hours
        && !h.contains(unix_secs)
    {
        return Decision::Refused("this machine's policy does not allow connections at this time");
    }
    match (policy.require_consent, local_user) {
        (true, true) => Decision::AskConsent,
        (true, false) => {
            Decision::Refused("nobody is signed in at the machine to allow the session")
        }
        (false, true) => Decision::Unattended,
        (false, false) if policy.allow_without_user => Decision::Unattended,
        (false, false) => Decision::Refused("this machine's policy needs someone signed in at it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, user_id: i64) -> Principal {
        Principal {
            org_id: 1,
            org_name: "Acme".into(),
            user_id,
            email: "t@acme.example".into(),
            full_name: "T".into(),
            short_name: "T".into(),
            role,
            totp_enabled: false,
            family: String::new(),
            files: Default::default(),
        }
    }

    /// 2026-11-23 is a Monday; `at(day_offset, "HH:MM")` is that Monday plus days, in UTC.
    fn at(days: i64, hhmm: &str) -> i64 {
        const MONDAY: i64 = 1_795_392_000; // 2026-11-23T00:00:00Z
        MONDAY + days * 86_400 + i64::from(minutes(hhmm).unwrap()) * 60
    }

    #[test]
    fn the_default_asks_the_local_user_and_refuses_when_nobody_is_there() {
        let p = MachinePolicy::default();
        assert_eq!(
            decide(&p, &who(Role::Technician, 5), true, 0),
            Decision::AskConsent
        );
        assert!(matches!(
            decide(&p, &who(Role::Owner, 5), false, 0),
            Decision::Refused(_)
        ));
        assert!(matches!(
            decide(&p, &who(Role::Viewer, 5), true, 0),
            Decision::Refused(_)
        ));
        // An empty JSON object is that same default.
        assert_eq!(serde_json::from_str::<MachinePolicy>("{}").unwrap(), p);
    }

    #[test]
    fn roles_or_listed_users_may_connect() {
        let p = MachinePolicy {
            roles: vec![PolicyRole::Admin],
            users: vec![9],
            ..MachinePolicy::default()
        };
        assert_eq!(
            decide(&p, &who(Role::Admin, 1), true, 0),
            Decision::AskConsent
        );
        assert_eq!(
            decide(&p, &who(Role::Technician, 9), true, 0),
            Decision::AskConsent
        );
        assert!(matches!(
            decide(&p, &who(Role::Technician, 8), true, 0),
            Decision::Refused(_)
        ));
        assert!(matches!(
            decide(&p, &who(Role::Owner, 1), true, 0),
            Decision::Refused(_)
        ));
    }

    #[test]
    fn unattended_needs_the_policy_and_someone_there_unless_allowed_without() {
        let mut p = MachinePolicy {
            require_consent: false,
            ..MachinePolicy::default()
        };
        let t = who(Role::Technician, 1);
        assert_eq!(decide(&p, &t, true, 0), Decision::Unattended);
        assert!(matches!(decide(&p, &t, false, 0), Decision::Refused(_)));
        p.allow_without_user = true;
        assert_eq!(decide(&p, &t, false, 0), Decision::Unattended);
    }

    #[test]
    fn hours_follow_the_weekday_and_the_offset() {
        let office = Hours {
            days: vec![1, 2, 3, 4, 5],
            from: "08:00".into(),
            to: "18:00".into(),
            utc_offset_minutes: 60,
            time_zone: None,
        };
        assert!(office.contains(at(0, "07:00"))); // Monday 08:00 local
        assert!(!office.contains(at(0, "06:59"))); // 07:59 local
        assert!(!office.contains(at(0, "17:00"))); // 18:00 local: closed
        assert!(!office.contains(at(5, "12:00"))); // Saturday
        assert!(office.contains(at(4, "16:59"))); // Friday 17:59 local
        assert!(!office.contains(at(-1, "12:00"))); // the Sunday before
    }

    #[test]
    fn a_night_window_belongs_to_the_day_it_opens() {
        let night = Hours {
            days: vec![5], // Friday
            from: "22:00".into(),
            to: "06:00".into(),
            utc_offset_minutes: 0,
            time_zone: None,
        };
        assert!(night.contains(at(4, "22:00")));
        assert!(night.contains(at(5, "05:59"))); // Saturday morning
        assert!(!night.contains(at(5, "06:00")));
        assert!(!night.contains(at(4, "05:00"))); // Friday morning belongs to Thursday
        assert!(!night.contains(at(5, "22:30"))); // Saturday night
        let p = MachinePolicy {
            hours: Some(night),
            ..MachinePolicy::default()
        };
        let t = who(Role::Technician, 1);
        assert!(matches!(
            decide(&p, &t, true, at(0, "12:00")),
            Decision::Refused(_)
        ));
        assert_eq!(decide(&p, &t, true, at(4, "23:00")), Decision::AskConsent);
    }

    #[test]
    fn a_time_zone_follows_daylight_saving_time() {
        // Amsterdam office hours; the fixed offset is deliberately wrong and must be ignored.
        let office = Hours {
            days: vec![1, 2, 3, 4, 5],
            from: "08:00".into(),
            to: "18:00".into(),
            utc_offset_minutes: -600,
            time_zone: Some("Europe/Amsterdam".into()),
        };
        // Monday 2026-11-23: winter time, UTC+1.
        assert!(office.contains(at(0, "07:00")));
        assert!(!office.contains(at(0, "06:59")));
        // Monday 2027-06-21 (210 days on): summer time, UTC+2, so 08:00 local is 06:00 UTC.
        assert!(office.contains(at(210, "06:00")));
        assert!(!office.contains(at(210, "05:59")));
        assert!(!office.contains(at(210, "16:00")));
        let p: MachinePolicy = serde_json::from_value(serde_json::json!({"hours": {
            "days": [1], "from": "08:00", "to": "18:00", "time_zone": "America/New_York"}}))
        .unwrap();
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn invalid_policies_are_refused_with_the_reason() {
        let bad = [
            r#"{"hours": {"days": [], "from": "08:00", "to": "18:00"}}"#,
            r#"{"hours": {"days": [8], "from": "08:00", "to": "18:00"}}"#,
            r#"{"hours": {"days": [1], "from": "8:00", "to": "18:00"}}"#,
            r#"{"hours": {"days": [1], "from": "24:00", "to": "18:00"}}"#,
            r#"{"hours": {"days": [1], "from": "08:00", "to": "08:00"}}"#,
            r#"{"hours": {"days": [1], "from": "08:00", "to": "18:00", "utc_offset_minutes": 900}}"#,
            r#"{"hours": {"days": [1], "from": "08:00", "to": "18:00", "time_zone": "Mars/Olympus"}}"#,
        ];
        for json in bad {
            let p: MachinePolicy = serde_json::from_str(json).unwrap();
            assert!(p.validate().is_err(), "{json} passed");
        }
        for json in [
            r#"{"roles": ["viewer"]}"#,
            r#"{"require_consent": "no"}"#,
            r#"{"colour": 1}"#,
        ] {
            assert!(
                serde_json::from_str::<MachinePolicy>(json).is_err(),
                "{json} parsed"
            );
        }
        let ok: MachinePolicy = serde_json::from_str(
            r#"{"hours": {"days": [1,2,3,4,5], "from": "08:00", "to": "18:00", "utc_offset_minutes": -300}}"#,
        )
        .unwrap();
        assert_eq!(ok.validate(), Ok(()));
    }
}
